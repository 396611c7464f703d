/**
 * Every hook variant passes the verifier on this kernel; load time and verified instruction
 * counts are printed (the budget: < 300 ms for the plugin). Attach of the kretprobe
 * variant is tried and, where the kernel has no kprobes, skipped with the reason printed.
 */
import { describe, expect, it } from 'vitest';
import { BpfObject, isBoxwatchError } from '@boxwatch/core';
import { FILEOPEN_VARIANTS, defaultObjectPath } from '@boxwatch/plugin-fileopen';

/** verified_insns of this object's loaded programs (bpf_prog_info, via BpfObject.programStats). */
function verifiedInsns(obj: BpfObject, programs: readonly string[]): Record<string, number> {
  return Object.fromEntries(programs.map((p) => [p, obj.programStats(p).verifiedInsns]));
}

describe('fileopen object loads through the verifier', () => {
  for (const variant of FILEOPEN_VARIANTS) {
    it(`variant ${variant.name}`, () => {
      const obj = BpfObject.open(defaultObjectPath());
      try {
        for (const v of FILEOPEN_VARIANTS) if (v !== variant) for (const p of v.programs) obj.setAutoload(p, false);
        const t0 = process.hrtime.bigint();
        obj.load();
        const ms = Number(process.hrtime.bigint() - t0) / 1e6;
        const insns = verifiedInsns(obj, variant.programs);
        console.log(`fileopen ${variant.name}: load ${ms.toFixed(1)} ms, verified insns ${JSON.stringify(insns)}`);
        expect(obj.loaded).toBe(true);
        for (const p of variant.programs) expect(insns[p], `verified_insns of ${p}`).toBeGreaterThan(0);
        for (const p of variant.programs) {
          try {
            obj.attach(p);
          } catch (err) {
            // Only the kretprobe variant may fail to attach, and only for want of kprobes.
            if (variant.name === 'kretprobe' && isBoxwatchError(err, 'ERR_NOT_SUPPORTED')) {
              console.log(`fileopen kretprobe: attach of ${p} skipped, this kernel has no kprobes: ${(err as Error).message}`);
              continue;
            }
            throw err;
          }
        }
      } finally {
        obj.close();
      }
    });
  }

  it('variant tp_btf with the probe-read walk (direct_walk off: the fallback for kernels before 6.2)', () => {
    const variant = FILEOPEN_VARIANTS.find((v) => v.name === 'tp_btf')!;
    const obj = BpfObject.open(defaultObjectPath());
    try {
      for (const v of FILEOPEN_VARIANTS) if (v !== variant) for (const p of v.programs) obj.setAutoload(p, false);
      obj.setGlobals({ direct_walk: false });
      obj.load();
      const insns = verifiedInsns(obj, variant.programs);
      console.log(`fileopen tp_btf (probe-read walk): verified insns ${JSON.stringify(insns)}`);
      for (const p of variant.programs) expect(insns[p], `verified_insns of ${p}`).toBeGreaterThan(0);
    } finally {
      obj.close();
    }
  });
});
