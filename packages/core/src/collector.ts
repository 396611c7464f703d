import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import type TypedEmitter from 'typed-emitter';
import { KernelClock } from './clock.js';
import { BoxwatchError } from './errors.js';
import type { IEvent } from './event.js';
import type { FeatureReport } from './features.js';
import { createLogger, type Logger } from './logger.js';
import type { ContainerResolver, PluginContext, PluginStats, Userspace } from './plugin.js';
import { probeFeatures } from './probes.js';
import type { Sink, SinkStats } from './sink.js';
import { DockerContainerRegistry } from './containers/registry.js';

export type PluginState = 'stopped' | 'starting' | 'running' | 'failed' | 'disabled';

export type CollectorEvents = {
  /** Every event from every plugin, after container enrichment. */
  event: (event: IEvent) => void;
  /** A plugin failed to start or crashed; the others keep running. */
  pluginError: (plugin: string, error: unknown) => void;
  pluginState: (plugin: string, state: PluginState) => void;
};

export interface CollectorOptions {
  plugins: Userspace[];
  sinks?: Sink[];
  /** Host name stamped on events (default os.hostname()). */
  host?: string;
  /** Container metadata source (default: a DockerContainerRegistry started by the Collector). */
  containers?: ManagedContainerSource;
  logger?: Logger;
  /** Pre-computed kernel feature report (default: probe at start). */
  features?: FeatureReport;
  /** Stop cleanly on SIGINT/SIGTERM (default false; the CLI turns it on). */
  handleSignals?: boolean;
}

/** A container resolver the Collector starts (with the kernel's feature report) and closes. */
export type ManagedContainerSource = ContainerResolver & {
  start?(options: { features: FeatureReport }): Promise<void>;
  close?(): void;
  stats?(): object;
};

export interface CollectorStats {
  startedAt: string | null;
  events: { total: number; byType: Record<string, number> };
  /**
   * Events of tasks in a container (their own pid namespace) for which no container id could be
   * found: delivered with `container: { id: null, unresolved: true }`, counted here.
   */
  unattributedEvents: number;
  /** The container source's own figures (the Docker registry: known containers, kernel name table). */
  containerSource?: object;
  plugins: Record<string, PluginStats & { state: PluginState; error?: string }>;
  sinks: Record<string, SinkStats & { writeErrors: number }>;
  containers: number;
}

interface PluginSlot {
  plugin: Userspace;
  state: PluginState;
  error?: string;
}

/**
 * Starts plugins (each on the hook variant the kernel supports), routes their events over a typed
 * emitter to sinks and subscribers, and stops everything cleanly. A plugin that fails is stopped
 * with its reason logged; the others keep running.
 */
export class Collector extends (EventEmitter as new () => TypedEmitter<CollectorEvents>) {
  readonly host: string;
  readonly logger: Logger;
  readonly clock = new KernelClock();
  private readonly slots = new Map<string, PluginSlot>();
  private readonly sinks: Sink[];
  private readonly sinkErrors = new Map<Sink, number>();
  private readonly containerSource: ManagedContainerSource;
  private unattributed = 0;
  private readonly ownsContainers: boolean;
  private features: FeatureReport | undefined;
  private total = 0;
  private readonly byType = new Map<string, number>();
  private startedAt: Date | null = null;
  private stopping: Promise<void> | null = null;
  private signalHandler: (() => void) | null = null;

  constructor(private readonly options: CollectorOptions) {
    super();
    this.setMaxListeners(50);
    this.host = options.host ?? hostname();
    this.logger = options.logger ?? createLogger();
    this.sinks = [...(options.sinks ?? [])];
    for (const p of options.plugins) {
      if (this.slots.has(p.name)) throw new BoxwatchError('ERR_CONFIG', `plugin ${p.name} given twice`, { field: 'plugins' });
      this.slots.set(p.name, { plugin: p, state: 'stopped' });
    }
    this.ownsContainers = !options.containers;
    this.containerSource = options.containers ?? new DockerContainerRegistry({ logger: this.logger.child({ component: 'containers' }) });
    this.features = options.features;
  }

  get containers(): ContainerResolver {
    return this.containerSource;
  }

  get featureReport(): FeatureReport {
    if (!this.features) this.features = probeFeatures();
    return this.features;
  }

  plugin<T extends Userspace = Userspace>(name: string): T | undefined {
    return this.slots.get(name)?.plugin as T | undefined;
  }

  pluginStates(): Array<{ name: string; state: PluginState; error?: string }> {
    return [...this.slots.values()].map((s) => ({ name: s.plugin.name, state: s.state, error: s.error }));
  }

  /**
   * Start sinks, container metadata and every plugin. Throws only when no plugin could start
   * (the error names each plugin's reason).
   */
  async start(): Promise<void> {
    if (this.startedAt) throw new BoxwatchError('ERR_STATE', 'collector already started');
    this.startedAt = new Date();
    for (const s of this.sinks) await s.start?.();
    if (this.containerSource.start) await this.containerSource.start({ features: this.featureReport });
    for (const slot of this.slots.values()) await this.startPlugin(slot);
    const running = [...this.slots.values()].filter((s) => s.state === 'running');
    if (this.slots.size > 0 && running.length === 0) {
      const reasons = [...this.slots.values()].map((s) => `${s.plugin.name}: ${s.error}`).join('; ');
      await this.stop();
      throw new BoxwatchError('ERR_STATE', `no plugin could start: ${reasons}`);
    }
    if (this.options.handleSignals) this.installSignalHandlers();
  }

  private context(slot: PluginSlot): PluginContext {
    return {
      host: this.host,
      features: this.featureReport,
      containers: this.containerSource,
      clock: this.clock,
      logger: this.logger.child({ plugin: slot.plugin.name }),
      emit: (event) => {
        if (slot.state === 'running' || slot.state === 'starting') this.dispatch(event);
      },
      fail: (error) => void this.failPlugin(slot, error),
    };
  }

  private async startPlugin(slot: PluginSlot): Promise<void> {
    this.setState(slot, 'starting');
    try {
      await slot.plugin.start(this.context(slot));
      slot.error = undefined;
      this.setState(slot, 'running');
    } catch (err) {
      slot.error = (err as Error).message;
      this.setState(slot, 'failed');
      this.logger.error({ plugin: slot.plugin.name, err: slot.error }, 'plugin failed to start');
      this.emit('pluginError', slot.plugin.name, err);
    }
  }

  private async failPlugin(slot: PluginSlot, error: unknown): Promise<void> {
    if (slot.state !== 'running') return;
    slot.error = (error as Error)?.message ?? String(error);
    this.logger.error({ plugin: slot.plugin.name, err: slot.error }, 'plugin crashed; stopping it');
    this.emit('pluginError', slot.plugin.name, error);
    try {
      await slot.plugin.stop();
    } catch {
      /* already failing */
    }
    this.setState(slot, 'failed');
  }

  private setState(slot: PluginSlot, state: PluginState): void {
    slot.state = state;
    this.emit('pluginState', slot.plugin.name, state);
  }

  /** Route one event: counters, subscribers, sinks. A throwing sink or subscriber is counted, not fatal. */
  dispatch(event: IEvent): void {
    this.total++;
    if (event.container !== null && event.container.id === null) this.unattributed++;
    this.byType.set(event.type, (this.byType.get(event.type) ?? 0) + 1);
    try {
      this.emit('event', event);
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'event subscriber threw');
    }
    for (const sink of this.sinks) {
      try {
        sink.write(event);
      } catch (err) {
        this.sinkErrors.set(sink, (this.sinkErrors.get(sink) ?? 0) + 1);
      }
    }
  }

  addSink(sink: Sink): void {
    this.sinks.push(sink);
  }

  /** Turn a plugin on at run time (control API). */
  async enablePlugin(name: string): Promise<void> {
    const slot = this.requireSlot(name);
    if (slot.state === 'running') return;
    await this.startPlugin(slot);
    if ((slot.state as PluginState) !== 'running') throw new BoxwatchError('ERR_STATE', `plugin ${name} failed to start: ${slot.error}`);
  }

  /** Turn a plugin off at run time; its programs are detached. */
  async disablePlugin(name: string): Promise<void> {
    const slot = this.requireSlot(name);
    if (slot.state === 'running') await slot.plugin.stop();
    this.setState(slot, 'disabled');
  }

  private requireSlot(name: string): PluginSlot {
    const slot = this.slots.get(name);
    if (!slot) throw new BoxwatchError('ERR_NOT_FOUND', `no plugin named ${name} (have: ${[...this.slots.keys()].join(', ')})`);
    return slot;
  }

  stats(): CollectorStats {
    const plugins: CollectorStats['plugins'] = {};
    for (const slot of this.slots.values()) {
      let s: PluginStats = { events: 0, lost: 0 };
      try {
        s = slot.plugin.stats();
      } catch {
        /* a stopped plugin may not answer */
      }
      plugins[slot.plugin.name] = { ...s, state: slot.state, ...(slot.error ? { error: slot.error } : {}) };
    }
    const sinks: CollectorStats['sinks'] = {};
    for (const sink of this.sinks) sinks[sink.name] = { ...sink.stats(), writeErrors: this.sinkErrors.get(sink) ?? 0 };
    return {
      startedAt: this.startedAt?.toISOString() ?? null,
      events: { total: this.total, byType: Object.fromEntries(this.byType) },
      plugins,
      sinks,
      containers: this.containerSource.list().length,
      unattributedEvents: this.unattributed,
      ...(this.containerSource.stats ? { containerSource: this.containerSource.stats() } : {}),
    };
  }

  /** Stop plugins (detaching programs), then flush and close sinks. Idempotent. */
  stop(): Promise<void> {
    if (!this.stopping) this.stopping = this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    this.removeSignalHandlers();
    for (const slot of this.slots.values()) {
      if (slot.state === 'running' || slot.state === 'starting') {
        try {
          await slot.plugin.stop();
        } catch (err) {
          this.logger.warn({ plugin: slot.plugin.name, err: (err as Error).message }, 'plugin stop failed');
        }
        this.setState(slot, 'stopped');
      }
    }
    for (const sink of this.sinks) {
      try {
        await sink.close();
      } catch (err) {
        this.logger.warn({ sink: sink.name, err: (err as Error).message }, 'sink close failed');
      }
    }
    if (this.ownsContainers) this.containerSource.close?.();
  }

  private installSignalHandlers(): void {
    const handler = () => {
      this.logger.info('signal received: stopping');
      void this.stop().then(() => process.exit(0));
    };
    this.signalHandler = handler;
    process.once('SIGINT', handler);
    process.once('SIGTERM', handler);
  }

  private removeSignalHandlers(): void {
    if (!this.signalHandler) return;
    process.off('SIGINT', this.signalHandler);
    process.off('SIGTERM', this.signalHandler);
    this.signalHandler = null;
  }
}
