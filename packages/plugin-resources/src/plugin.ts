/**
 * The resources plugin: a `Userspace` with no BPF program. Every interval it samples each running
 * container's cgroup accounting and network counters and emits one `resource.usage` event per
 * container, with rates over the interval.
 */
import { readFile, readlink } from 'node:fs/promises';
import {
  BoxwatchError,
  createEvent,
  type KnownContainer,
  type HookVariant,
  type Logger,
  type PluginContext,
  type PluginStats,
  type TypedEvent,
  type Userspace,
} from '@boxwatch/core';
import { detectLayout, type CgroupLayout } from './cgroup-layout.js';
import { ContainerSampler, type SamplerEnv } from './container-sampler.js';
import { dockerInitPid } from './docker-pid.js';
import { resolveOptions, type ResolvedOptions, type ResourcesOptions } from './options.js';
import { parseMemTotal } from './parse.js';
import { isVanished } from './pinned-file.js';
import { computeUsage, type ResourceUsageFields } from './usage.js';

export const RESOURCE_USAGE = 'resource.usage';
const MAX_FAILED_INTERVALS = 3;
export type ResourceUsageEvent = TypedEvent<typeof RESOURCE_USAGE, ResourceUsageFields>;

export interface ResourcesStats extends PluginStats {
  /** Containers with open accounting files. */
  containers: number;
  /** Intervals completed. */
  intervals: number;
  /** Wall time of the last interval's sampling, ms. */
  lastIntervalMs: number;
  /** CPU time (user + system) the agent spent on the last interval's sampling, ms. */
  lastIntervalCpuMs: number;
  /** Containers that went away while being sampled (normal; counted for visibility). */
  vanished: number;
  /** Unexpected read failures (permissions, fd exhaustion); each is logged. */
  errors: number;
  layout: 'cgroup-v1' | 'cgroup-v2' | 'none';
}

export class ResourcesPlugin implements Userspace {
  readonly name = 'resources';
  readonly variants: readonly HookVariant[] = [];
  readonly eventTypes = [RESOURCE_USAGE] as const;

  private readonly options: ResolvedOptions;
  private ctx: PluginContext | null = null;
  private log: Logger | null = null;
  private env: SamplerEnv | null = null;
  private hostMemoryBytes = 0;
  private readonly samplers = new Map<string, ContainerSampler>();
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private nextDue = 0;
  private stopped = false;
  private unsubscribe: (() => void) | null = null;
  /** Whole intervals that failed in a row; past MAX_FAILED_INTERVALS the Collector is told. */
  private failedIntervals = 0;
  private readonly counters = { events: 0, intervals: 0, lastIntervalMs: 0, lastIntervalCpuMs: 0, vanished: 0, errors: 0 };

  /** Throws ERR_CONFIG naming the field when an option is invalid. */
  constructor(options: ResourcesOptions = {}) {
    this.options = resolveOptions(options);
  }

  async start(ctx: PluginContext): Promise<void> {
    if (this.ctx && !this.stopped) throw new BoxwatchError('ERR_STATE', 'resources plugin already started');
    // Started again after stop() (the control API's disable → enable): begin from a clean slate.
    this.stopped = false;
    this.failedIntervals = 0;
    const { procRoot } = this.options;
    const layout = detectLayout(await readFile(`${procRoot}/self/mountinfo`, 'latin1'));
    if (layout === null) {
      throw new BoxwatchError('ERR_NOT_SUPPORTED', 'no cgroup v1 cpuacct/memory or cgroup2 hierarchy is mounted', {
        feature: 'cgroup_v1',
      });
    }
    this.ctx = ctx;
    this.log = ctx.logger.child({ plugin: this.name });
    this.hostMemoryBytes = parseMemTotal(await readFile(`${procRoot}/meminfo`, 'latin1'));
    this.env = {
      layout,
      procRoot,
      initPid: this.options.initPid ?? resolverInitPid(ctx),
      hostNetNs: await readlink(`${procRoot}/self/ns/net`).catch(() => null),
    };
    this.log.info({ layout: layoutName(layout), intervalMs: this.options.intervalMs }, 'resources plugin started');

    // A restarted container keeps its id but gets a new cgroup and init process: drop what we hold.
    this.unsubscribe = ctx.containers.onChange(({ container }) => void this.forget(container.id));

    // The first pass only takes the baseline every rate needs; events start one interval later.
    this.nextDue = Date.now();
    await this.runInterval();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.unsubscribe?.();
    this.unsubscribe = null;
    await this.running?.catch(() => undefined);
    await Promise.all([...this.samplers.keys()].map((id) => this.forget(id)));
    this.ctx = null;
  }

  stats(): ResourcesStats {
    return {
      ...this.counters,
      lost: 0,
      containers: this.samplers.size,
      layout: this.env ? layoutName(this.env.layout) : 'none',
    };
  }

  private runInterval(): Promise<void> {
    const run = this.sampleAll()
      .then(() => {
        this.failedIntervals = 0;
      })
      .catch((err: unknown) => {
        // Per-container problems never get here; this is the loop itself failing. Once may be a
        // blip; failing every time would only fill the log, so hand it to the Collector.
        this.counters.errors++;
        this.log?.error({ err }, 'resources interval failed');
        if (++this.failedIntervals >= MAX_FAILED_INTERVALS) {
          this.stopped = true;
          this.ctx?.fail(err);
        }
      })
      .finally(() => {
        this.running = null;
        this.schedule();
      });
    this.running = run;
    return run;
  }

  /** Timers are set against a fixed schedule so intervals do not drift by the sampling time. */
  private schedule(): void {
    if (this.stopped) return;
    const { intervalMs } = this.options;
    this.nextDue += intervalMs;
    const now = Date.now();
    // Fell behind (machine suspended, event loop blocked): skip missed slots rather than burst.
    if (this.nextDue < now) this.nextDue = now + intervalMs - ((now - this.nextDue) % intervalMs);
    this.timer = setTimeout(() => void this.runInterval(), this.nextDue - now);
  }

  private async sampleAll(): Promise<void> {
    const ctx = this.ctx;
    if (!ctx || this.stopped) return;
    const wall0 = process.hrtime.bigint();
    const cpu0 = process.cpuUsage();

    const containers = ctx.containers.list();
    const listed = new Set(containers.map((c) => c.id));
    for (const id of this.samplers.keys()) if (!listed.has(id)) await this.forget(id);

    await forEachLimit(containers, this.options.concurrency, (c) => this.sampleOne(ctx, c));

    const cpu = process.cpuUsage(cpu0);
    this.counters.lastIntervalCpuMs = (cpu.user + cpu.system) / 1000;
    this.counters.lastIntervalMs = Number(process.hrtime.bigint() - wall0) / 1e6;
    this.counters.intervals++;
  }

  private async sampleOne(ctx: PluginContext, container: KnownContainer): Promise<void> {
    try {
      let sampler = this.samplers.get(container.id);
      if (!sampler) {
        sampler = (await ContainerSampler.open(this.env!, container.id)) ?? undefined;
        if (!sampler) return; // not running (yet / any more)
        if (this.stopped) return void (await sampler.close());
        this.samplers.set(container.id, sampler);
      }
      const sample = await sampler.sample();
      const fields = sampler.prev ? computeUsage(sampler.prev, sample, this.hostMemoryBytes) : null;
      sampler.prev = sample;
      if (fields && !this.stopped) {
        const header = {
          time: ctx.clock.toDate(sample.monoNs),
          ts: sample.monoNs,
          host: ctx.host,
          container,
          cgroupId: ctx.containers.cgroupIdOf(container.id) ?? 0n,
          pid: 0,
          tid: 0,
          comm: '',
        };
        ctx.emit(createEvent(RESOURCE_USAGE, header, fields));
        this.counters.events++;
      }
    } catch (err) {
      await this.forget(container.id);
      if (isVanished(err)) {
        // Stopped or restarted mid-interval: its cgroup files answer ENODEV. Not an error.
        this.counters.vanished++;
        this.log?.debug({ container: container.id }, 'container went away while sampling');
      } else {
        this.counters.errors++;
        this.log?.warn({ err, container: container.id }, 'reading container resources failed');
      }
    }
  }

  private async forget(containerId: string): Promise<void> {
    const sampler = this.samplers.get(containerId);
    if (!sampler) return;
    this.samplers.delete(containerId);
    await sampler.close();
  }
}

/**
 * The init pid the Collector's resolver already knows (no extra runtime call); Docker is asked only
 * for containers the resolver has no details for (a resolver not backed by a runtime).
 */
function resolverInitPid(ctx: PluginContext): (containerId: string) => Promise<number | null> {
  let docker: ((containerId: string) => Promise<number | null>) | null = null;
  return async (containerId) => {
    const details = ctx.containers.details(containerId);
    if (details) return details.running && details.pid > 0 ? details.pid : null;
    docker ??= dockerInitPid();
    return docker(containerId);
  };
}

function layoutName(layout: CgroupLayout): 'cgroup-v1' | 'cgroup-v2' {
  return layout.version === 1 ? 'cgroup-v1' : 'cgroup-v2';
}

/** Runs `fn` over `items` with at most `limit` in flight; the order of completion does not matter. */
async function forEachLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
