import type { IEvent, ContainerInfo } from './event.js';
import type { FeatureName, FeatureReport } from './features.js';
import type { Logger } from './logger.js';
import type { KernelClock } from './clock.js';

/**
 * One way a plugin can hook the kernel. A plugin lists its variants in order of preference; the
 * Collector probes the kernel and picks the first whose required features are all supported. The
 * programs of the variants not chosen are not loaded (autoload off).
 */
export interface HookVariant {
  name: string;
  /** Program names (C function names) this variant loads and attaches. */
  programs: readonly string[];
  /** Kernel features the variant needs (all of them). */
  requires: readonly FeatureName[];
  /**
   * Tracepoints its tp_btf programs attach to that not every kernel with tp_btf has (e.g.
   * `sock_send_length`, Linux 6.3): looked up in the kernel's BTF (`btf_trace_<name>`) before the
   * variant is chosen, so an older kernel gets the next variant instead of a failed load.
   */
  tracepoints?: readonly string[];
  description?: string;
}

/** What the agent knows about a container beyond the metadata carried in events. */
export interface ContainerDetails {
  info: KnownContainer;
  /** Host pid of the container's init process (0 when not running). */
  pid: number;
  /** IPv4 and IPv6 addresses of the container on its networks. */
  ips: string[];
  /** cgroup v2 id (the kernel-side container key), when known. */
  cgroupId: bigint | null;
  running: boolean;
}

/** Looks up container metadata for the kernel's container key. */
export interface ContainerResolver {
  /** Container for a cgroup v2 id, or null for the host / an unknown cgroup. Synchronous (cached). */
  byCgroupId(cgroupId: bigint): KnownContainer | null;
  /** Container by full id, 12+ hex prefix or name (without the leading slash). */
  find(idOrName: string): KnownContainer | null;
  /** Containers currently known to be running. */
  list(): KnownContainer[];
  /** Pid, addresses and cgroup id of a container (by id, prefix or name). */
  details(idOrName: string): ContainerDetails | null;
  /** The container that owns an IP address, if it is a local container. */
  byIp(ip: string): KnownContainer | null;
  /** cgroup v2 id of a container, when known. */
  cgroupIdOf(containerId: string): bigint | null;
  /** Called when a container starts or stops (after metadata is refreshed). */
  onChange(listener: (change: { kind: 'start' | 'stop'; container: KnownContainer }) => void): () => void;
  /**
   * Called when the runtime announces a container it created (name, image and labels known, not
   * started yet): lets a plugin prepare kernel state before the container's first instruction.
   */
  onCreated?(listener: (container: KnownContainer) => void): () => void;
  /**
   * Settles when the name of `container` is known or cannot become known, at most `timeoutMs`
   * later; null when nothing is pending. Lets alerts (never events) wait briefly for the name of a
   * container seen in the kernel before its runtime answered.
   */
  whenNamed?(container: ContainerInfo, timeoutMs: number): Promise<void> | null;
}

/** A container the runtime or cgroupfs named (its id is known). */
export type KnownContainer = ContainerInfo & { id: string };

/** What the Collector hands a plugin when it starts. */
export interface PluginContext {
  host: string;
  features: FeatureReport;
  containers: ContainerResolver;
  clock: KernelClock;
  logger: Logger;
  /** Deliver an event to the Collector's bus (enrichment and sinks follow). */
  emit(event: IEvent): void;
  /**
   * Report a failure the plugin cannot recover from (e.g. in a timer): the Collector stops this
   * plugin with the reason logged and keeps the others running.
   */
  fail(error: unknown): void;
}

export interface PluginStats {
  /** Events emitted since start. */
  events: number;
  /** Events the kernel could not hand over (ring buffer full), summed over CPUs. */
  lost: number;
  /** Hook variant in use (for BPF plugins). */
  variant?: string;
  [extra: string]: unknown;
}

/** The userspace side of a plugin: what the Collector starts, stops and asks for stats. */
export interface Userspace {
  readonly name: string;
  /** Hook variants in order of preference; empty for sources without a BPF program. */
  readonly variants: readonly HookVariant[];
  /** Event types this plugin emits (documented in docs/events.md). */
  readonly eventTypes: readonly string[];
  start(ctx: PluginContext): Promise<void>;
  /** Detach and release everything; idempotent. */
  stop(): Promise<void>;
  stats(): PluginStats;
}
