/**
 * Resource model over `resource.usage` (issue 12): per image, the learned range of CPU use, process
 * count, memory growth rate, memory use as a share of the limit and OOM kills per interval. While
 * detecting, a metric above its threshold for `sustain` consecutive intervals of one container raises
 * one anomaly (re-armed when it drops back). Threshold per metric = max(max seen × margin,
 * mean + 4·std) + slack, where the slack is a small per-metric floor (an idle baseline has max 0, and
 * "anything above 0% CPU" is not an anomaly); slacks and margin are options.
 */
import type { IEvent } from '@boxwatch/core';
import type { Phase, Report } from './types.js';
import type { Priority } from '../rules/loader.js';

export const RESOURCE_METRICS = ['cpu_percent', 'pids', 'memory_growth_bps', 'memory_limit_fraction', 'oom_kills'] as const;
export type ResourceMetric = (typeof RESOURCE_METRICS)[number];

export interface ResourceOptions {
  /** Consecutive intervals above threshold before alerting (default 2). */
  sustain?: number;
  margin?: number;
  slack?: Partial<Record<ResourceMetric, number>>;
}

interface Stat {
  n: number;
  mean: number;
  m2: number;
  max: number;
}

export interface ResourceProfile {
  stats: Record<ResourceMetric, Stat>;
  thresholds: Partial<Record<ResourceMetric, number>>;
  trained: boolean;
}

const DEFAULT_SLACK: Record<ResourceMetric, number> = {
  cpu_percent: 10,
  pids: 5,
  memory_growth_bps: 1024 * 1024,
  memory_limit_fraction: 0.05,
  oom_kills: 0,
};

const DESCRIBE: Record<ResourceMetric, { what: string; priority: Priority; tags: string[] }> = {
  cpu_percent: { what: 'CPU use', priority: 'warning', tags: ['cryptominer'] },
  pids: { what: 'process count', priority: 'warning', tags: ['fork_bomb'] },
  memory_growth_bps: { what: 'memory growth (bytes/s)', priority: 'notice', tags: ['memory'] },
  memory_limit_fraction: { what: 'memory use as share of limit', priority: 'notice', tags: ['memory'] },
  oom_kills: { what: 'OOM kills per interval', priority: 'error', tags: ['memory'] },
};

export function newResourceProfile(): ResourceProfile {
  const stats = {} as Record<ResourceMetric, Stat>;
  for (const m of RESOURCE_METRICS) stats[m] = { n: 0, mean: 0, m2: 0, max: 0 };
  return { stats, thresholds: {}, trained: false };
}

interface ContainerResourceState {
  lastMemory?: number;
  lastTimeMs?: number;
  over: Record<ResourceMetric, number>;
}

export class ResourceModel {
  private readonly containers = new Map<string, ContainerResourceState>();
  private readonly sustain: number;
  private readonly margin: number;
  private readonly slack: Record<ResourceMetric, number>;
  private readonly values = {} as Record<ResourceMetric, number | undefined>;

  constructor(opts: ResourceOptions = {}) {
    this.sustain = opts.sustain ?? 2;
    this.margin = opts.margin ?? 1.2;
    this.slack = { ...DEFAULT_SLACK, ...opts.slack };
  }

  observe(profile: ResourceProfile, containerKey: string, event: IEvent, phase: Phase, report: Report): void {
    const e = event as unknown as Record<string, number | undefined>;
    let st = this.containers.get(containerKey);
    if (!st) {
      st = { over: { cpu_percent: 0, pids: 0, memory_growth_bps: 0, memory_limit_fraction: 0, oom_kills: 0 } };
      this.containers.set(containerKey, st);
    }
    const now = event.time.getTime();
    const v = this.values;
    v.cpu_percent = e.cpu_percent;
    v.pids = e.pids;
    // oom_kills is the count in this interval (the plugin turns cgroup counters into deltas).
    v.oom_kills = e.oom_kills;
    const mem = e.memory_bytes;
    v.memory_growth_bps =
      mem !== undefined && st.lastMemory !== undefined && st.lastTimeMs !== undefined && now > st.lastTimeMs
        ? Math.max(0, ((mem - st.lastMemory) * 1000) / (now - st.lastTimeMs))
        : undefined;
    v.memory_limit_fraction = mem !== undefined && e.memory_limit_bytes && e.memory_limit_bytes > 0 ? mem / e.memory_limit_bytes : undefined;
    if (mem !== undefined) {
      st.lastMemory = mem;
      st.lastTimeMs = now;
    }

    for (const m of RESOURCE_METRICS) {
      const x = v[m];
      if (x === undefined || !Number.isFinite(x)) continue;
      if (phase !== 'detecting' || !profile.trained) {
        if (phase === 'detecting') continue;
        const s = profile.stats[m];
        s.n++;
        const d = x - s.mean;
        s.mean += d / s.n;
        s.m2 += d * (x - s.mean);
        if (x > s.max) s.max = x;
        continue;
      }
      const threshold = profile.thresholds[m];
      if (threshold === undefined) continue;
      if (x > threshold) {
        st.over[m]++;
        if (st.over[m] === this.sustain) {
          const d = DESCRIBE[m];
          report({
            model: 'resource',
            key: m,
            message: `${d.what} ${round(x)} above learned threshold ${round(threshold)} for ${this.sustain} intervals (learned max ${round(profile.stats[m].max)})`,
            priority: d.priority,
            tags: ['model', 'resource', ...d.tags],
            event,
            details: { metric: m, value: x, threshold, learnedMax: profile.stats[m].max, intervals: this.sustain },
          });
        }
      } else {
        st.over[m] = 0;
      }
    }
  }

  finish(profile: ResourceProfile): void {
    for (const m of RESOURCE_METRICS) {
      const s = profile.stats[m];
      if (s.n === 0) continue;
      const std = s.n > 1 ? Math.sqrt(s.m2 / (s.n - 1)) : 0;
      profile.thresholds[m] = Math.max(s.max * this.margin, s.mean + 4 * std) + this.slack[m];
    }
    profile.trained = true;
  }

  forgetContainer(containerKey: string): void {
    this.containers.delete(containerKey);
  }
}

function round(x: number): string {
  return Math.abs(x) >= 100 ? Math.round(x).toString() : x.toFixed(2);
}
