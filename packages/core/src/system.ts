import { native } from './native.js';

/** Version of the libbpf shared library the addon is linked against (e.g. "1.1"). */
export function libbpfVersion(): string {
  return native().libbpfVersion();
}

/** Number of possible CPUs (the slot count of per-CPU map values). */
export function numPossibleCpus(): number {
  return native().numPossibleCpus();
}
