/**
 * The detector: process context + rules + learned models + alerting, behind one synchronous
 * `ingest(event)`. Feed it from the Collector's bus in-process or from the Kafka source; both hand it
 * the same IEvent objects.
 */
import { EventEmitter } from 'node:events';
import { readFile, writeFile, rename } from 'node:fs/promises';
import type TypedEmitter from 'typed-emitter';
import { BoxwatchError, silentLogger, type BoxwatchError as BoxwatchErrorT, type ContainerResolver, type IEvent, type Logger } from '@boxwatch/core';
import { ProcessTable, type ProcEntry, type ProcessTableOptions } from './context/process-table.js';
import { RuleEngine, defaultRulesPath, type RuleSource } from './rules/engine.js';
import type { CompiledRule, RuleSet } from './rules/ruleset.js';
import type { EvalScope } from './rules/bindings.js';
import { ModelSet, type ImageProgress, type KernelSequenceNote, type KernelSequenceStats, type ModelOptions, type ModelsJSON } from './models/model-set.js';
import type { KernelSequenceControl } from './models/kernel-stide.js';
import type { Anomaly, Phase } from './models/types.js';
import { Alerter, type AlertEvent, type AlerterOptions, type AlerterStats } from './alerts/alerter.js';
import { ResponseHook, type ResponseOptions, type ResponseStats } from './response.js';

export interface DetectorOptions {
  /** Rule files or inline sources; default: the shipped default rules. `[]` disables rules. */
  rules?: readonly (string | RuleSource)[];
  /** Rule names switched off at run time from the start (see RuleEngine.setEnabled); kept across reloads. */
  disabledRules?: readonly string[];
  /** Called with the new run-time disabled set before a switch takes effect (persistence); a throw cancels the switch. */
  saveDisabledRules?: (disabled: readonly string[]) => void;
  /** Reload rule files on change (default false). */
  watchRules?: boolean;
  /** Learned models (default on). */
  models?: ModelOptions | false;
  /**
   * In-kernel STIDE filtering: the syscall plugin started with `sequence: 'kernel'` (same as
   * `models.kernelSequence`). The detector then drives the kernel's per-image mode and known n-grams
   * from each image's learning phase and scores `syscall.seq_mismatch` / `syscall.seq_stats`.
   */
  kernelSequence?: KernelSequenceControl;
  alerts?: AlerterOptions;
  /** Flush deduplicated count updates every N ms (default 5000; 0 = only on flush()/close()). */
  flushIntervalMs?: number;
  /** Response hook; off when absent. */
  response?: ResponseOptions;
  /** Containers frozen at start (id, 12+ hex prefix or name). */
  frozen?: readonly string[];
  processTable?: ProcessTableOptions;
  /**
   * Where container names come from (the Collector's resolver in-process). A rule alert about a
   * container seen in the kernel before its runtime answered waits for the name, at most
   * `nameWaitMs`, so that its message and container carry it; events are never held.
   */
  containers?: Pick<ContainerResolver, 'whenNamed'>;
  /** Longest a rule alert waits for its container's name (default 500 ms; 0: never waits). */
  nameWaitMs?: number;
  logger?: Logger;
}

export type DetectorEvents = {
  alert: (alert: AlertEvent) => void;
  rulesLoaded: (info: { rules: number; errors: readonly BoxwatchErrorT[] }) => void;
};

export interface DetectorStats {
  events: number;
  eventsByType: Record<string, number>;
  rules: { loaded: number; errors: number; evaluations: number; matches: number; reloads: number };
  models: { images: number; phase: Phase; anomalies: number; kernelSequence?: KernelSequenceStats };
  /** Alerter counters plus the rule alerts that waited (in all) and wait (now) for a container name. */
  alerts: AlerterStats & { heldForName: number; waitingForName: number };
  processes: number;
  response?: ResponseStats;
}

export interface LearningProgress {
  phase: Phase;
  /** 0..1, the least advanced image (1 when every image detects). */
  fraction: number;
  /** Longest remaining time among learning images, null when only event-count based. */
  timeLeftMs: number | null;
  images: ImageProgress[];
}

export class Detector extends (EventEmitter as new () => TypedEmitter<DetectorEvents>) {
  private readonly table: ProcessTable;
  private readonly engine: RuleEngine | null;
  private readonly models: ModelSet | null;
  private readonly alerter: Alerter;
  private readonly response: ResponseHook | null;
  private readonly logger: Logger;
  private readonly flushTimer: NodeJS.Timeout | null;
  private readonly byType = new Map<string, number>();
  private events = 0;
  private anomalies = 0;
  private closed = false;
  /** Reused per event: rules read the event and process through it. */
  private readonly scope: EvalScope;
  private readonly onRuleMatch: (rule: CompiledRule, scope: EvalScope) => void;
  private readonly onAnomaly: (a: Anomaly) => void;
  private currentProc: ProcEntry | null = null;
  private readonly containers: Pick<ContainerResolver, 'whenNamed'> | undefined;
  private readonly nameWaitMs: number;
  /** Rule alerts waiting for their container's name. */
  private readonly held = new Set<Promise<void>>();
  private heldTotal = 0;
  private readonly saveDisabledRules: ((disabled: readonly string[]) => void) | undefined;

  constructor(options: DetectorOptions = {}) {
    super();
    this.logger = options.logger ?? silentLogger;
    this.containers = options.containers;
    this.nameWaitMs = options.nameWaitMs ?? 500;
    this.saveDisabledRules = options.saveDisabledRules;
    this.table = new ProcessTable(options.processTable);
    for (const f of options.frozen ?? []) this.table.freeze(f);
    const sources = options.rules ?? [defaultRulesPath()];
    this.engine =
      sources.length === 0
        ? null
        : new RuleEngine({
            sources,
            watch: options.watchRules ?? false,
            ...(options.disabledRules ? { disabled: options.disabledRules } : {}),
            logger: this.logger,
            onLoad: (set, errors) => queueMicrotask(() => this.emit('rulesLoaded', { rules: set.rules.length, errors })),
          });
    const kernelSequence = options.kernelSequence ?? (options.models ? options.models.kernelSequence : undefined);
    if (kernelSequence && options.models === false) this.logger.warn('kernel sequence filtering needs the learned models; models are off, the kernel filter is not driven');
    this.models =
      options.models === false
        ? null
        : new ModelSet({
            ...(options.models ?? {}),
            ...(kernelSequence ? { kernelSequence, onKernelSequence: options.models?.onKernelSequence ?? ((n) => this.logKernelSequence(n)) } : {}),
          });
    this.response = options.response ? new ResponseHook({ logger: this.logger, ...options.response }) : null;
    this.alerter = new Alerter((alert) => {
      this.response?.handle(alert);
      this.emit('alert', alert);
    }, options.alerts);
    const flushMs = options.flushIntervalMs ?? 5000;
    this.flushTimer = flushMs > 0 ? setInterval(() => this.alerter.flush(), flushMs) : null;
    this.flushTimer?.unref?.();
    const placeholder: ProcEntry = { pid: 0, ppid: 0, comm: '', name: '', exe: '', argv: [], uid: -1, exe_written_at_runtime: false, exe_from_memfd: false, created_memfd: false, has_outbound_connection: false, outbound_peers: [], known: false };
    this.scope = { e: null as unknown as IEvent, p: placeholder, table: this.table };
    const raiseRule = (rule: CompiledRule, scope: EvalScope, proc: ProcEntry | null) => {
      // The rendered output is also the dedup key: same rule, same container, same message → one alert.
      const message = rule.output.render(scope);
      this.alerter.raise({
        rule: rule.name,
        priority: rule.priority,
        message,
        tags: rule.tags,
        key: message,
        event: scope.e,
        proc,
      });
    };
    this.onRuleMatch = (rule, scope) => {
      const c = scope.e.container;
      const wait = c !== null && c.name === undefined && this.nameWaitMs > 0 ? this.containers?.whenNamed?.(c, this.nameWaitMs) : null;
      if (!wait) return raiseRule(rule, scope, this.currentProc);
      // Rendered when the name is in: the runtime fills the event's container object in place. The
      // process entry is copied as it is now, so the alert shows the process that matched.
      const held: EvalScope = { e: scope.e, p: { ...scope.p }, table: scope.table };
      const proc = this.currentProc ? { ...this.currentProc } : null;
      this.heldTotal++;
      const done: Promise<void> = wait.then(() => {
        this.held.delete(done);
        if (!this.closed) raiseRule(rule, held, proc);
      });
      this.held.add(done);
    };
    this.onAnomaly = (a) => {
      this.anomalies++;
      this.alerter.raise({ model: a.model, priority: a.priority, message: a.message, tags: a.tags, key: a.key, event: a.event, proc: this.table.get(a.event.pid) ?? null, details: a.details });
    };
  }

  private logKernelSequence(n: KernelSequenceNote): void {
    if (n.kind === 'error') this.logger.warn({ image: n.image, phase: n.phase, err: n.error.message }, 'kernel sequence filter off for this image');
    else if (n.kind === 'mode') this.logger.info({ image: n.image, phase: n.phase, mode: n.mode, knownNgrams: n.knownNgrams, resync: n.resync }, 'kernel sequence mode');
    else this.logger.info({ image: n.image, phase: n.phase, added: n.added, knownNgrams: n.knownNgrams }, 'kernel sequence: validation n-grams added');
  }

  /** Rule problems of the current rule set (each names file:line and the rule). */
  get ruleErrors(): readonly BoxwatchErrorT[] {
    return this.engine?.current.errors ?? [];
  }

  get rules(): RuleSet | null {
    return this.engine?.current ?? null;
  }

  /** Process one event. Synchronous; alerts are emitted before it returns, except a rule alert whose container name is pending (see `containers`), which follows within `nameWaitMs`. */
  ingest(event: IEvent): void {
    if (this.closed || event.type === 'alert') return;
    this.events++;
    this.byType.set(event.type, (this.byType.get(event.type) ?? 0) + 1);
    const proc = this.table.observe(event);
    if (this.engine) {
      const set = this.engine.current; // one consistent set per event, even if a reload swaps it meanwhile
      if (set.rulesFor(event.type).length > 0) {
        this.currentProc = proc;
        this.scope.e = event;
        if (proc) this.scope.p = proc;
        else this.scope.p = { ...this.scope.p, pid: event.pid, comm: event.comm, name: event.comm };
        set.evaluate(this.scope, this.onRuleMatch);
      }
    }
    this.models?.observe(event, this.onAnomaly);
  }

  freeze(containerIdOrName: string): void {
    this.table.freeze(containerIdOrName);
  }

  unfreeze(containerIdOrName: string): boolean {
    return this.table.unfreeze(containerIdOrName);
  }

  frozen(): string[] {
    return this.table.frozenKeys();
  }

  /**
   * Switch a rule off or on for every event ingested after the call (RuleEngine.setEnabled: only
   * rules their file enables; ERR_NOT_FOUND / ERR_STATE otherwise). `persist` (default: the
   * `saveDisabledRules` option) receives the new run-time disabled set first; when it throws
   * nothing changes. ERR_STATE when rules are off.
   */
  setRuleEnabled(name: string, enabled: boolean, persist = this.saveDisabledRules): RuleSet {
    if (!this.engine) throw new BoxwatchError('ERR_STATE', 'rules are off in this detector', { field: 'name' });
    return this.engine.setEnabled(name, enabled, persist);
  }

  /** Reload rule files now (also happens on file change with `watchRules`). */
  reloadRules(): readonly BoxwatchErrorT[] {
    return this.engine?.reload() ?? [];
  }

  get phase(): Phase {
    return this.progress().phase;
  }

  progress(nowMs?: number): LearningProgress {
    const images = this.models?.progress(nowMs) ?? [];
    if (!this.models) return { phase: 'detecting', fraction: 1, timeLeftMs: 0, images };
    if (images.length === 0) return { phase: 'learning', fraction: 0, timeLeftMs: null, images };
    const phase: Phase = images.some((i) => i.phase === 'learning') ? 'learning' : images.some((i) => i.phase === 'validating') ? 'validating' : 'detecting';
    const left = images.map((i) => i.timeLeftMs);
    return {
      phase,
      fraction: Math.min(...images.map((i) => i.fraction)),
      timeLeftMs: left.some((x) => x === null) ? null : Math.max(...(left as number[])),
      images,
    };
  }

  /** End learning now for every image seen so far. */
  finishLearning(): void {
    this.models?.finishLearning();
  }

  /** Emit count updates of deduplicated alerts. */
  flush(nowMs?: number): void {
    this.alerter.flush(nowMs);
  }

  stats(): DetectorStats {
    const set = this.engine?.current;
    return {
      events: this.events,
      eventsByType: Object.fromEntries(this.byType),
      rules: {
        loaded: set?.rules.length ?? 0,
        errors: set?.errors.length ?? 0,
        evaluations: set?.counters.evaluations ?? 0,
        matches: set?.counters.matches ?? 0,
        reloads: this.engine?.reloadCount ?? 0,
      },
      models: { images: this.models?.size ?? 0, phase: this.phase, anomalies: this.anomalies, ...(this.models?.kernelSequenceStats() ? { kernelSequence: this.models.kernelSequenceStats()! } : {}) },
      alerts: { ...this.alerter.stats(), heldForName: this.heldTotal, waitingForName: this.held.size },
      processes: this.table.size,
      ...(this.response ? { response: this.response.stats() } : {}),
    };
  }

  modelsJSON(): ModelsJSON {
    if (!this.models) throw new BoxwatchError('ERR_STATE', 'models are disabled');
    return this.models.toJSON();
  }

  loadModelsJSON(json: ModelsJSON): void {
    if (!this.models) throw new BoxwatchError('ERR_STATE', 'models are disabled');
    this.models.load(json);
  }

  /** Write the learned models to `file` (atomically: temp file + rename). */
  async save(file: string): Promise<void> {
    const tmp = `${file}.tmp-${process.pid}`;
    await writeFile(tmp, JSON.stringify(this.modelsJSON()));
    await rename(tmp, file);
  }

  async load(file: string): Promise<void> {
    let json: ModelsJSON;
    try {
      json = JSON.parse(await readFile(file, 'utf8')) as ModelsJSON;
    } catch (err) {
      throw new BoxwatchError('ERR_CONFIG', `${file}: cannot read model file: ${(err as Error).message}`, { file, cause: err });
    }
    this.loadModelsJSON(json);
  }

  /** Container gone: drop its per-container runtime state (profiles stay, they are per image). */
  forgetContainer(id: string): void {
    this.models?.forgetContainer(id);
    this.table.forgetContainer(id);
    this.alerter.forgetContainer(id);
  }

  /** Resolves when every rule alert that waits for its container's name has been raised. */
  async settled(): Promise<void> {
    while (this.held.size > 0) await Promise.all([...this.held]);
  }

  /** Raise alerts still waiting for a name, flush pending alert updates, stop timers and watchers, wait for response calls. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.settled();
    this.alerter.flush();
    this.closed = true;
    if (this.flushTimer) clearInterval(this.flushTimer);
    this.engine?.close();
    await this.response?.drain();
  }
}
