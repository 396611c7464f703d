export { SyscallPlugin, SYSCALL_EVENT_TYPES } from './plugin.js';
export { resolveOptions, type SyscallPluginOptions, type ResolvedOptions } from './options.js';
export { SyscallTable, hostArch, type Arch } from './syscall-table.js';
export { DETAIL_SYSCALLS } from './detail-specs.js';
export {
  KernelSequence,
  kernelNgramKey,
  kernelNgramIds,
  rollKernelNgramKey,
  profileKeyOf,
  type KernelSequenceMode,
  type KernelSequenceProfileInfo,
  type KseqCounter,
} from './kernel-sequence.js';
export type { KernelSequenceOptions } from './options.js';
