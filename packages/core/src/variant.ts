import { readFileSync } from 'node:fs';
import { BoxwatchError } from './errors.js';
import type { FeatureReport } from './features.js';
import type { HookVariant } from './plugin.js';

export interface VariantChoice {
  variant: HookVariant;
  /** Why each preferred variant before it was passed over. */
  skipped: Array<{ variant: string; missing: string[] }>;
}

/**
 * The first variant whose required features are all supported. "inconclusive" counts as missing:
 * a variant we cannot prove works is not chosen over one we can.
 */
export function chooseVariant(plugin: string, variants: readonly HookVariant[], features: FeatureReport, hasTracepoint: (name: string) => boolean = kernelHasTracepoint): VariantChoice {
  const skipped: VariantChoice['skipped'] = [];
  for (const variant of variants) {
    const missing = variant.requires.filter((f) => features[f]?.status !== 'supported').map((f) => `${f} (${features[f]?.status ?? 'unknown'}: ${features[f]?.detail ?? 'not probed'})`);
    if (missing.length === 0) for (const t of variant.tracepoints ?? []) if (!hasTracepoint(t)) missing.push(`tracepoint ${t} (not in this kernel's BTF)`);
    if (missing.length === 0) return { variant, skipped };
    skipped.push({ variant: variant.name, missing });
  }
  const all = [...new Set(variants.flatMap((v) => [...v.requires.filter((f) => features[f]?.status !== 'supported'), ...(v.tracepoints ?? []).filter((t) => !hasTracepoint(t)).map((t) => `tracepoint:${t}`)]))];
  throw new BoxwatchError(
    'ERR_NOT_SUPPORTED',
    `plugin ${plugin}: no hook variant can run on this kernel: ${skipped.map((s) => `${s.variant} needs ${s.missing.join(', ')}`).join('; ')}`,
    { feature: all.join(',') },
  );
}

let vmlinuxBtf: Buffer | null | undefined;

/**
 * Whether the running kernel has the tracepoint `name`: its BTF names a `btf_trace_<name>` typedef
 * (what tp_btf attaches by). The BTF's string table is searched for the NUL-delimited name, which
 * is exact for these identifiers. Without /sys/kernel/btf/vmlinux there is no tp_btf at all.
 */
export function kernelHasTracepoint(name: string): boolean {
  if (vmlinuxBtf === undefined) {
    try {
      vmlinuxBtf = readFileSync('/sys/kernel/btf/vmlinux');
    } catch {
      vmlinuxBtf = null;
    }
  }
  return vmlinuxBtf !== null && vmlinuxBtf.includes(`\0btf_trace_${name}\0`);
}
