import { describe, expect, it } from 'vitest';
import { isBoxwatchError } from '@boxwatch/core';
import { kernelNgramIds, kernelNgramKey, resolveOptions, rollKernelNgramKey } from '@boxwatch/plugin-syscall';

function configErrorOf(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    if (isBoxwatchError(err, 'ERR_CONFIG')) return err;
    throw err;
  }
  throw new Error('no error thrown');
}

describe("sequence: 'kernel' options", () => {
  it('defaults', () => {
    const o = resolveOptions({ watch: ['web'], sequence: 'kernel' });
    expect(o.sequence).toBe(false);
    expect(o.kernelSequence).toEqual({ n: 5, initialMode: 'learn', maxKnownNgrams: 262_144, maxLearnKeys: 65_536, drainIntervalMs: 1000 });
    expect(resolveOptions({ watch: ['web'], sequence: true }).kernelSequence).toBeNull();
  });

  it('rejects bad values naming the field', () => {
    expect(configErrorOf(() => resolveOptions({ sequence: 'kernel' }))).toMatchObject({ field: 'sequence' });
    expect(configErrorOf(() => resolveOptions({ watch: ['w'], sequence: 'yes' as never }))).toMatchObject({ field: 'sequence' });
    expect(configErrorOf(() => resolveOptions({ watch: ['w'], sequence: 'kernel', kernelSequence: { n: 6 } }))).toMatchObject({ field: 'kernelSequence.n' });
    expect(configErrorOf(() => resolveOptions({ watch: ['w'], sequence: 'kernel', kernelSequence: { initialMode: 'x' as never } }))).toMatchObject({ field: 'kernelSequence.initialMode' });
    expect(configErrorOf(() => resolveOptions({ watch: ['w'], sequence: 'kernel', kernelSequence: { bogus: 1 } as never }))).toMatchObject({ field: 'kernelSequence.bogus' });
    expect(configErrorOf(() => resolveOptions({ watch: ['w'], sequence: true, kernelSequence: {} }))).toMatchObject({ field: 'kernelSequence' });
  });
});

describe('kernel n-gram key', () => {
  it('packs 10 bits per id, oldest first, and rolls like the kernel', () => {
    expect(kernelNgramKey([0, 1, 2, 3, 4])).toBe(1 * 1024 ** 3 + 2 * 1024 ** 2 + 3 * 1024 + 4);
    expect(kernelNgramKey([1023, 0, 0, 0, 5000])).toBe(1023 * 1024 ** 4 + 1023);
    let k = 0;
    for (const id of [9, 8, 7, 0, 1, 2, 3, 4]) k = rollKernelNgramKey(k, id, 5);
    expect(k).toBe(kernelNgramKey([0, 1, 2, 3, 4]));
    expect(kernelNgramIds(k, 5)).toEqual([0, 1, 2, 3, 4]);
    // Same key as the kernel's u64 arithmetic (shift, or, mask) for the largest ids.
    const big = (ids: number[]) => ids.reduce((a, id) => ((a << 10n) | BigInt(id)) & ((1n << 50n) - 1n), 0n);
    expect(BigInt(kernelNgramKey([511, 511, 511, 511, 511]))).toBe(big([3, 511, 511, 511, 511, 511]));
  });
});
