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
export function chooseVariant(plugin: string, variants: readonly HookVariant[], features: FeatureReport): VariantChoice {
  const skipped: VariantChoice['skipped'] = [];
  for (const variant of variants) {
    const missing = variant.requires.filter((f) => features[f]?.status !== 'supported');
    if (missing.length === 0) return { variant, skipped };
    skipped.push({ variant: variant.name, missing: missing.map((f) => `${f} (${features[f]?.status ?? 'unknown'}: ${features[f]?.detail ?? 'not probed'})`) });
  }
  const all = [...new Set(variants.flatMap((v) => v.requires.filter((f) => features[f]?.status !== 'supported')))];
  throw new BoxwatchError(
    'ERR_NOT_SUPPORTED',
    `plugin ${plugin}: no hook variant can run on this kernel: ${skipped.map((s) => `${s.variant} needs ${s.missing.join(', ')}`).join('; ')}`,
    { feature: all.join(',') },
  );
}
