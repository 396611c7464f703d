export { EnforcePlugin, ENFORCE_VARIANTS, defaultObjectPath, type EnforceOptions, type EnforceStats } from './plugin.js';
export { decodeEnforce, ENFORCE_EVENT_TYPES, type EnforceEvent, type EnforceFields } from './decode.js';
export { parsePolicyText, parsePoliciesOrThrow, PROTECTED_COMMS, PREFIX_MAX, type Policy } from './policy.js';
export { loadPolicyFile } from './load.js';
export { policySelects, selectorMatches } from './select.js';
export { SYSCALL_NAMES } from './syscalls.js';
