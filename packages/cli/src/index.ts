export { buildProgram } from './program.js';
export { doctor, formatDoctor, type DoctorReport } from './commands/doctor.js';
export { createPlugin, PLUGIN_NAMES } from './plugins.js';
