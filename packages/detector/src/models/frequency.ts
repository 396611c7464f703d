/**
 * Syscall frequency model over `syscall.count` events. The events of one container and one interval
 * (same `interval_ms` bucket of event time) form a vector of rates (calls/s per syscall name). Each
 * container keeps an EWMA of its vectors (smoothing one-off jitter), compared with the image's learned
 * per-feature mean and standard deviation (z-score), and the interval's normalised histogram is compared
 * with the learned mean histogram (total-variation distance, 0..1). Both thresholds are the largest value
 * seen while replaying the learning intervals, times a margin, widened further when few intervals
 * were learned.
 */
import type { IEvent } from '@boxwatch/core';
import type { Phase, Report } from './types.js';

export interface FrequencyOptions {
  /** EWMA weight of the newest interval (default 0.5). */
  alpha?: number;
  /** Thresholds = max score seen in learning × margin (default 1.5). */
  margin?: number;
  /** Smallest z threshold, for images whose learning data was perfectly flat (default 4). */
  minZ?: number;
  /** Smallest distance threshold (default 0.05). */
  minDistance?: number;
  /** Learning intervals kept to derive thresholds (default 2000, oldest dropped). */
  maxSamples?: number;
}

export interface FrequencyProfile {
  /** Rate vectors of the learning intervals, in arrival order. */
  samples: Record<string, number>[];
  /** Set when learning finishes. */
  mean: Record<string, number>;
  std: Record<string, number>;
  histogram: Record<string, number>;
  zThreshold: number;
  distanceThreshold: number;
  trained: boolean;
}

export function newFrequencyProfile(): FrequencyProfile {
  return { samples: [], mean: {}, std: {}, histogram: {}, zThreshold: 0, distanceThreshold: 0, trained: false };
}

/** Per-container state (not persisted: it is about the current interval). */
interface Bucket {
  key: number;
  intervalMs: number;
  counts: Map<string, number>;
  ewma: Map<string, number>;
  last: IEvent;
}

function normalise(v: Record<string, number> | Map<string, number>): Map<string, number> {
  const entries = v instanceof Map ? [...v] : Object.entries(v);
  const total = entries.reduce((s, [, x]) => s + x, 0);
  const out = new Map<string, number>();
  if (total > 0) for (const [k, x] of entries) out.set(k, x / total);
  return out;
}

function distance(p: Map<string, number>, q: Record<string, number>): number {
  let d = 0;
  for (const [k, x] of p) d += Math.abs(x - (q[k] ?? 0));
  for (const [k, x] of Object.entries(q)) if (!p.has(k)) d += x;
  return d / 2;
}

/** Floor for a feature's deviation so constant features do not produce infinite z-scores. */
function effectiveStd(std: number, mean: number): number {
  return Math.max(std, 0.1 * mean, 1);
}

function maxZ(vec: Map<string, number>, p: FrequencyProfile): { z: number; feature: string } {
  let best = { z: 0, feature: '' };
  for (const [k, x] of vec) {
    const mean = p.mean[k] ?? 0;
    const z = (x - mean) / effectiveStd(p.std[k] ?? 0, mean);
    if (z > best.z) best = { z, feature: k };
  }
  return best;
}

export class FrequencyModel {
  private readonly buckets = new Map<string, Bucket>();
  private readonly alpha: number;
  private readonly margin: number;
  private readonly minZ: number;
  private readonly minDistance: number;
  private readonly maxSamples: number;

  constructor(opts: FrequencyOptions = {}) {
    this.alpha = opts.alpha ?? 0.5;
    this.margin = opts.margin ?? 1.5;
    this.minZ = opts.minZ ?? 4;
    this.minDistance = opts.minDistance ?? 0.05;
    this.maxSamples = opts.maxSamples ?? 2000;
  }

  observe(profile: FrequencyProfile, containerKey: string, event: IEvent, phase: Phase, report: Report): void {
    const e = event as unknown as { syscall?: { name?: string; id?: number }; count?: number; interval_ms?: number };
    const intervalMs = e.interval_ms && e.interval_ms > 0 ? e.interval_ms : 1000;
    const key = Math.floor(event.time.getTime() / intervalMs);
    let b = this.buckets.get(containerKey);
    if (!b) {
      b = { key, intervalMs, counts: new Map(), ewma: new Map(), last: event };
      this.buckets.set(containerKey, b);
    } else if (key !== b.key) {
      this.close(profile, b, phase, report);
      b.key = key;
      b.intervalMs = intervalMs;
      b.counts.clear();
    }
    const name = e.syscall?.name ?? String(e.syscall?.id ?? '?');
    b.counts.set(name, (b.counts.get(name) ?? 0) + (e.count ?? 0));
    b.last = event;
  }

  /** Close a container's interval: learn it or score it. */
  private close(profile: FrequencyProfile, b: Bucket, phase: Phase, report: Report): void {
    const perSec = 1000 / b.intervalMs;
    const rates = new Map<string, number>();
    for (const [k, c] of b.counts) rates.set(k, c * perSec);
    if (phase !== 'detecting' || !profile.trained) {
      if (phase !== 'detecting') {
        profile.samples.push(Object.fromEntries(rates));
        if (profile.samples.length > this.maxSamples) profile.samples.shift();
      }
      this.updateEwma(b, rates);
      return;
    }
    this.updateEwma(b, rates);
    const { z, feature } = maxZ(b.ewma, profile);
    const dist = distance(normalise(rates), profile.histogram);
    if (z > profile.zThreshold) {
      report({
        model: 'syscall-frequency',
        key: `z:${feature}`,
        message: `syscall rate anomaly: ${feature} at ${Math.round(rates.get(feature) ?? 0)}/s (learned ${Math.round(profile.mean[feature] ?? 0)}/s), z=${z.toFixed(1)} > ${profile.zThreshold.toFixed(1)}`,
        priority: 'warning',
        tags: ['model', 'syscall'],
        event: b.last,
        details: { feature, z, threshold: profile.zThreshold, rate: rates.get(feature) ?? 0 },
      });
    } else if (dist > profile.distanceThreshold) {
      report({
        model: 'syscall-frequency',
        key: 'distance',
        message: `syscall mix anomaly: histogram distance ${dist.toFixed(3)} > ${profile.distanceThreshold.toFixed(3)}`,
        priority: 'notice',
        tags: ['model', 'syscall'],
        event: b.last,
        details: { distance: dist, threshold: profile.distanceThreshold },
      });
    }
  }

  private updateEwma(b: Bucket, rates: Map<string, number>): void {
    for (const [k, v] of b.ewma) b.ewma.set(k, (1 - this.alpha) * v + this.alpha * (rates.get(k) ?? 0));
    for (const [k, x] of rates) if (!b.ewma.has(k)) b.ewma.set(k, x);
  }

  /** End of learning: baseline from the samples, thresholds from replaying them. */
  finish(profile: FrequencyProfile): void {
    const n = profile.samples.length;
    const features = new Set(profile.samples.flatMap((s) => Object.keys(s)));
    profile.mean = {};
    profile.std = {};
    for (const f of features) {
      let sum = 0;
      for (const s of profile.samples) sum += s[f] ?? 0;
      const mean = n > 0 ? sum / n : 0;
      let sq = 0;
      for (const s of profile.samples) sq += ((s[f] ?? 0) - mean) ** 2;
      profile.mean[f] = mean;
      profile.std[f] = n > 1 ? Math.sqrt(sq / (n - 1)) : 0;
    }
    profile.histogram = Object.fromEntries(normalise(profile.mean));
    // Replay with the same EWMA the detector uses, so thresholds match what detection will compute.
    let worstZ = 0;
    let worstD = 0;
    const fake: Bucket = { key: 0, intervalMs: 1000, counts: new Map(), ewma: new Map(), last: null as unknown as IEvent };
    for (const s of profile.samples) {
      const rates = new Map(Object.entries(s));
      this.updateEwma(fake, rates);
      worstZ = Math.max(worstZ, maxZ(fake.ewma, profile).z);
      worstD = Math.max(worstD, distance(normalise(rates), profile.histogram));
    }
    // The largest score of n learning intervals underestimates how far normal behaviour can go, the
    // more so the fewer intervals there are (one minute of learning is six 10 s intervals). Widen
    // by 1 + 2/sqrt(n): ×1.8 for 6 intervals, ×1.4 for 30 (five minutes), ×1.05 for 2000.
    const smallSample = 1 + 2 / Math.sqrt(Math.max(1, n));
    profile.zThreshold = Math.max(this.minZ, worstZ * this.margin * smallSample);
    profile.distanceThreshold = Math.max(this.minDistance, Math.min(1, worstD * this.margin * smallSample));
    profile.trained = n > 0;
  }

  forgetContainer(containerKey: string): void {
    this.buckets.delete(containerKey);
  }
}
