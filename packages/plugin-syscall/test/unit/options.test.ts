import { describe, expect, it } from 'vitest';
import { isBoxwatchError } from '@boxwatch/core';
import { resolveOptions, SyscallPlugin, DETAIL_SYSCALLS } from '@boxwatch/plugin-syscall';

function configErrorOf(fn: () => unknown): { code: string; field?: string; message: string } {
  try {
    fn();
  } catch (err) {
    if (isBoxwatchError(err)) return { code: err.code, field: err.field, message: err.message };
    throw err;
  }
  throw new Error('expected an error');
}

describe('options', () => {
  it('defaults: all containers, host off, 10 s drain, every detail syscall, no sequence', () => {
    const o = resolveOptions({ arch: 'x86_64' });
    expect(o.watch).toBe('all');
    expect(o.hostProcesses).toBe(false);
    expect(o.drainIntervalMs).toBe(10_000);
    expect(o.sequence).toBe(false);
    expect(o.detail.map((d) => d.name)).toEqual(DETAIL_SYSCALLS);
    expect(o.detail.find((d) => d.name === 'execve')?.id).toBe(59);
    expect(o.detail.find((d) => d.name === 'mkdir')?.id).toBe(83);
  });

  it('an unknown detail syscall is ERR_CONFIG naming `detail`', () => {
    const e = configErrorOf(() => new SyscallPlugin({ detail: ['execve', 'definitely_not_a_syscall'] }));
    expect(e.code).toBe('ERR_CONFIG');
    expect(e.field).toBe('detail');
    expect(e.message).toContain('definitely_not_a_syscall');
  });

  it('a syscall without a detail program (read) is rejected too', () => {
    expect(configErrorOf(() => resolveOptions({ detail: ['read'] })).field).toBe('detail');
  });

  it.each([0, -5, Number.NaN, Infinity, '100'])('drainIntervalMs %s is ERR_CONFIG naming drainIntervalMs', (v) => {
    const e = configErrorOf(() => new SyscallPlugin({ drainIntervalMs: v as number }));
    expect(e).toMatchObject({ code: 'ERR_CONFIG', field: 'drainIntervalMs' });
  });

  it('sequence mode needs a watch list', () => {
    expect(configErrorOf(() => resolveOptions({ sequence: true }))).toMatchObject({ code: 'ERR_CONFIG', field: 'sequence' });
    expect(resolveOptions({ sequence: true, watch: ['web'] }).sequence).toBe(true);
  });

  it('rejects bad watch entries, unknown options and wrong types with the field named', () => {
    expect(configErrorOf(() => resolveOptions({ watch: [] }))).toMatchObject({ field: 'watch' });
    expect(configErrorOf(() => resolveOptions({ ringBuffer: { realtimeDrain: 1 as unknown as boolean } }))).toMatchObject({ code: 'ERR_CONFIG', field: 'ringBuffer.realtimeDrain' });
    expect(resolveOptions({ ringBuffer: { stagingBytes: 0 } }).ringBuffer).toEqual({ stagingBytes: 0 });
    expect(configErrorOf(() => resolveOptions({ watch: ['ok', ''] }))).toMatchObject({ field: 'watch[1]' });
    expect(configErrorOf(() => resolveOptions({ watch: 'web' as unknown as string[] }))).toMatchObject({ field: 'watch' });
    expect(configErrorOf(() => resolveOptions({ hostProcess: true } as never))).toMatchObject({ field: 'hostProcess' });
    expect(configErrorOf(() => resolveOptions({ hostProcesses: 'yes' as never }))).toMatchObject({ field: 'hostProcesses' });
    expect(configErrorOf(() => resolveOptions({ maxCounterKeys: 3 }))).toMatchObject({ field: 'maxCounterKeys' });
    expect(configErrorOf(() => resolveOptions({ arch: 'mips' as never }))).toMatchObject({ field: 'arch' });
  });

  it('drops legacy syscalls that the architecture lacks (arm64 has no mkdir/chmod, only the *at forms)', () => {
    const names = resolveOptions({ arch: 'arm64' }).detail.map((d) => d.name);
    expect(names).not.toContain('mkdir');
    expect(names).toContain('mkdirat');
    expect(resolveOptions({ arch: 'arm64' }).detail.find((d) => d.name === 'execve')?.id).toBe(221);
  });
});
