export { SyscallPlugin, SYSCALL_EVENT_TYPES } from './plugin.js';
export { resolveOptions, type SyscallPluginOptions, type ResolvedOptions } from './options.js';
export { SyscallTable, hostArch, type Arch } from './syscall-table.js';
export { DETAIL_SYSCALLS } from './detail-specs.js';
