import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { SyscallTable } from '@boxwatch/plugin-syscall';
import { splitArgs } from '../../src/decode.js';
import { cloneFlagNames, ptraceRequestName, bpfCmdName } from '../../src/names.js';

describe('syscall tables (generated from the UAPI headers)', () => {
  it('x86_64 numbers', () => {
    const t = new SyscallTable('x86_64');
    expect([t.name(0), t.name(1), t.name(59), t.name(83), t.name(165), t.name(272), t.name(321)]).toEqual([
      'read',
      'write',
      'execve',
      'mkdir',
      'mount',
      'unshare',
      'bpf',
    ]);
    expect(t.id('exit_group')).toBe(231);
  });

  it('arm64 numbers (asm-generic table)', () => {
    const t = new SyscallTable('arm64');
    expect([t.name(63), t.name(64), t.name(221), t.name(34), t.name(40), t.name(97)]).toEqual(['read', 'write', 'execve', 'mkdirat', 'mount', 'unshare']);
    expect(t.id('mkdir')).toBeUndefined();
    expect(t.id('fstat')).toBe(80);
  });

  it('ids beyond the headers get a stable placeholder name', () => {
    expect(new SyscallTable('x86_64').name(499)).toBe('syscall_499');
  });
});

describe('argument names', () => {
  it('unshare/setns flags', () => {
    expect(cloneFlagNames(0x20000 | 0x40000000)).toEqual(['CLONE_NEWNS', 'CLONE_NEWNET']);
    expect(cloneFlagNames(0x1)).toEqual(['0x1']);
    expect(cloneFlagNames(0)).toEqual([]);
  });
  it('ptrace and bpf commands', () => {
    expect(ptraceRequestName(16)).toBe('PTRACE_ATTACH');
    expect(ptraceRequestName(0x4206)).toBe('PTRACE_SEIZE');
    expect(bpfCmdName(5)).toBe('BPF_PROG_LOAD');
    expect(bpfCmdName(999)).toBe('BPF_CMD_999');
  });
});

describe('argument area splitting', () => {
  it('splits NUL-separated argv without a trailing empty entry', () => {
    expect(splitArgs(new TextEncoder().encode('ls\0/tmp\0'))).toEqual(['ls', '/tmp']);
    expect(splitArgs(new TextEncoder().encode('ls\0-l\0/tm'))).toEqual(['ls', '-l', '/tm']);
    expect(splitArgs(new Uint8Array())).toEqual([]);
  });
  it('round-trips any argv of non-empty NUL-free strings', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ minLength: 1 }).filter((s) => !s.includes('\0')), { maxLength: 20 }), (argv) => {
        const bytes = new TextEncoder().encode(argv.map((a) => `${a}\0`).join(''));
        expect(splitArgs(bytes)).toEqual(argv);
      }),
    );
  });
});
