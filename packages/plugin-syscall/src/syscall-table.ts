import { ARM64_SYSCALLS, X86_64_SYSCALLS } from './generated/syscalls.js';

/** Architectures with a syscall table. The BPF object is built for x86_64 only for now. */
export type Arch = 'x86_64' | 'arm64';

/** Syscall id ↔ name for one architecture (ids differ between architectures). */
export class SyscallTable {
  private readonly names = new Map<number, string>();
  private readonly ids = new Map<string, number>();

  constructor(readonly arch: Arch) {
    for (const [id, name] of arch === 'x86_64' ? X86_64_SYSCALLS : ARM64_SYSCALLS) {
      this.names.set(id, name);
      this.ids.set(name, id);
    }
  }

  /** Name of a syscall id; ids newer than the generating headers come out as `syscall_<id>`. */
  name(id: number): string {
    return this.names.get(id) ?? `syscall_${id}`;
  }

  /** Id of a syscall name on this architecture, or undefined when it has none (e.g. `mkdir` on arm64). */
  id(name: string): number | undefined {
    return this.ids.get(name);
  }
}

/** The architecture of this Node process (the kernel's, for a native agent). */
export function hostArch(): Arch {
  if (process.arch === 'x64') return 'x86_64';
  if (process.arch === 'arm64') return 'arm64';
  throw new Error(`no syscall table for architecture ${process.arch}`);
}
