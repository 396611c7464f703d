/** Hook variant choice: features first, then the tracepoints a variant's tp_btf programs need. */
import { describe, expect, it } from 'vitest';
import { chooseVariant, kernelHasTracepoint, type FeatureReport, type HookVariant } from '@boxwatch/core';

const supported = { status: 'supported', detail: 'test' } as const;
const features = new Proxy({}, { get: () => supported }) as FeatureReport;
const variants: HookVariant[] = [
  { name: 'new', programs: ['a'], requires: ['tp_btf'], tracepoints: ['sock_send_length'] },
  { name: 'old', programs: ['b'], requires: ['kprobe'] },
];

describe('chooseVariant', () => {
  it('takes the first variant when its tracepoints exist', () => {
    expect(chooseVariant('p', variants, features, () => true).variant.name).toBe('new');
  });

  it('passes over a variant whose tracepoint the kernel lacks, and says which', () => {
    const c = chooseVariant('p', variants, features, (t) => t !== 'sock_send_length');
    expect(c.variant.name).toBe('old');
    expect(c.skipped).toEqual([{ variant: 'new', missing: ["tracepoint sock_send_length (not in this kernel's BTF)"] }]);
  });

  it('names the missing tracepoint when no variant can run', () => {
    expect(() => chooseVariant('p', variants.slice(0, 1), features, () => false)).toThrow(/new needs tracepoint sock_send_length/);
  });

  it("reads this kernel's BTF: a tracepoint every tp_btf kernel has is there, a made-up one is not", () => {
    expect(kernelHasTracepoint('sys_enter')).toBe(true);
    expect(kernelHasTracepoint('boxwatch_no_such_tracepoint')).toBe(false);
  });
});
