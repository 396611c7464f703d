import { fileURLToPath } from 'node:url';
import {
  BoxwatchError,
  BpfPlugin,
  codec,
  isBoxwatchError,
  type BpfObject,
  type HookVariant,
  type PluginContext,
  type PluginStats,
  type RingBufferSpec,
} from '@boxwatch/core';
import { CounterDrainer } from './counters.js';
import { countKeyCodec, countValueCodec } from './counters.js';
import { DETAIL_PROGRAMS, DETAIL_SPECS, type DetailProgram } from './detail-specs.js';
import { RecordDecoder } from './decode.js';
import { resolveOptions, type ResolvedOptions, type SyscallPluginOptions } from './options.js';
import { SyscallTable } from './syscall-table.js';
import { WatchedCgroups, watchValueCodec } from './watched.js';
import { KernelSequence, kseqCounterCodec, kseqKeyCodec, type KernelSequenceMode } from './kernel-sequence.js';

/** Must match SC_MAX_SYSCALL and the SC_KIND_* values in bpf/syscall.bpf.c. */
const MAX_SYSCALL = 512;
const KIND = { detail: 1, exec: 2 } as const;
/** Index → reason of the kernel's `drops` counters (SC_DROP_*). */
const DROP_REASONS = ['pendingFull', 'sequenceBufferFull', 'counterInsertFailed'] as const;

export const SYSCALL_EVENT_TYPES = [
  'syscall.count',
  'syscall.seq',
  'syscall.seq_mismatch',
  'syscall.seq_stats',
  'syscall.ngrams',
  ...Object.keys(DETAIL_SPECS).map((n) => `syscall.${n}`),
  'process.exec',
  'process.fork',
  'process.exit',
] as const;

/** The sys_exit twin of a detail program (captures syscalls seccomp denied before sys_enter). */
const exitProgram = (p: DetailProgram): string => `exit_${p}`;

function defaultObjectPath(): string {
  // src/plugin.ts (tests) and dist/index.js (package) both sit one level below bpf/.
  return fileURLToPath(new URL('../bpf/syscall.bpf.o', import.meta.url));
}

/**
 * Per-container syscall counters (`syscall.count`), detail events for security-relevant syscalls
 * (`syscall.<name>`, with the return value), process lifecycle (`process.*`) and the opt-in
 * per-thread sequence stream (`syscall.seq`). See docs/events/syscall.md and process.md.
 */
export class SyscallPlugin extends BpfPlugin {
  readonly name = 'syscall';
  readonly variants: readonly HookVariant[];
  readonly eventTypes: readonly string[] = SYSCALL_EVENT_TYPES;
  protected readonly objectPath: string;

  readonly options: ResolvedOptions;
  private readonly table: SyscallTable;
  private drainer: CounterDrainer | null = null;
  private timer: NodeJS.Timeout | null = null;
  private watched: WatchedCgroups | null = null;
  private kseq: KernelSequence | null = null;
  private kseqTimer: NodeJS.Timeout | null = null;
  private kseqDrainErrors = 0;
  private unsubscribe: (() => void) | null = null;
  private counterDrains = 0;
  private counterKeys = 0;
  private counterDrainErrors = 0;
  private undecodable = 0;

  /** Options are validated here: bad ones throw ERR_CONFIG naming the field. */
  constructor(options: SyscallPluginOptions = {}, objectPath: string = defaultObjectPath()) {
    super();
    this.options = resolveOptions(options);
    this.ringBufferTuning = this.options.ringBuffer;
    this.table = new SyscallTable(this.options.arch);
    this.objectPath = objectPath;
    const withDetail = this.options.detail.length > 0;
    this.variants = [
      {
        name: 'tp_btf',
        // Without detail syscalls nothing needs sys_exit: not attaching it halves the per-syscall
        // cost on every process of the machine.
        programs: withDetail
          ? ['sys_enter', 'sys_exit', 'proc_exec', 'proc_fork', 'proc_exit', ...DETAIL_PROGRAMS, ...DETAIL_PROGRAMS.map(exitProgram)]
          : ['sys_enter', 'proc_exec', 'proc_fork', 'proc_exit'],
        requires: ['btf', 'tp_btf', 'ringbuf', 'tail_call'],
        description: 'BTF-typed sys_enter/sys_exit and sched_process_* tracepoints, detail programs by tail call',
      },
    ];
  }

  protected override configure(obj: BpfObject, _variant: HookVariant, ctx: PluginContext): void {
    const o = this.options;
    // process.exec's exe is walked in a bpf_loop; without it the event says exe: null.
    const exePaths = ctx.features.bpf_loop.status === 'supported';
    if (o.processEvents && !exePaths) {
      ctx.logger.warn({ plugin: this.name, feature: 'bpf_loop', detail: ctx.features.bpf_loop.detail }, 'process.exec reports exe: null: the path walk needs bpf_loop (Linux 5.17)');
    }
    const kinds = Buffer.alloc(MAX_SYSCALL);
    for (const d of o.detail) kinds[d.id] = KIND[DETAIL_SPECS[d.name]!.kind];
    obj.setGlobals({
      host_processes: o.hostProcesses,
      filter_cgroups: o.watch !== 'all',
      sequence_mode: o.sequence,
      kseq_enabled: o.kernelSequence !== null,
      kseq_n: o.kernelSequence?.n ?? 5,
      process_events: o.processEvents,
      exe_paths: exePaths,
      detail_kind: kinds,
    });
    obj.setMaxEntries('counts', o.maxCounterKeys);
    if (o.kernelSequence) {
      obj.setMaxEntries('kseq_known', o.kernelSequence.maxKnownNgrams);
      obj.setMaxEntries('kseq_learn', o.kernelSequence.maxLearnKeys);
    }
    if (o.detail.length === 0) obj.setAutoload('sys_exit', false);
    // Detail programs no chosen syscall uses are not loaded at all.
    const used = new Set(o.detail.map((d) => DETAIL_SPECS[d.name]!.program));
    for (const p of DETAIL_PROGRAMS) {
      if (used.has(p)) continue;
      obj.setAutoload(p, false);
      obj.setAutoload(exitProgram(p), false);
    }
  }

  protected override isTailCallTarget(program: string): boolean {
    return program.startsWith('detail_') || program.startsWith('exit_detail_');
  }

  protected override ringBuffers(): RingBufferSpec[] {
    const decoder = new RecordDecoder(this.table, this.decodeContext(), (id) => this.kseq?.imageOf(id));
    return [
      {
        map: 'events',
        onRecord: (view, off, len) => {
          const event = decoder.decode(view, off, len);
          if (event) this.emit(event);
          else this.undecodable++;
        },
      },
    ];
  }

  protected override async onLoaded(obj: BpfObject, ctx: PluginContext): Promise<void> {
    const o = this.options;
    for (const d of o.detail) {
      const program = DETAIL_SPECS[d.name]!.program;
      obj.setTailCall('detail_progs', d.id, program);
      obj.setTailCall('exit_detail_progs', d.id, exitProgram(program));
    }

    if (o.kernelSequence) {
      this.kseq = new KernelSequence(
        o.kernelSequence,
        {
          watched: obj.map('watched', codec.u64, watchValueCodec),
          known: obj.map('kseq_known', kseqKeyCodec, codec.u8),
          learn: obj.map('kseq_learn', kseqKeyCodec, codec.u64n),
          counters: obj.map('kseq_counters', codec.u32, kseqCounterCodec),
        },
        ctx.host,
        ctx.clock,
      );
      this.kseqTimer = setInterval(() => this.drainSequence(), o.kernelSequence.drainIntervalMs);
      this.kseqTimer.unref();
    }

    if (o.watch !== 'all') {
      const watched = new WatchedCgroups(o.watch, obj.map('watched', codec.u64, watchValueCodec), ctx.containers, ctx.logger, this.kseq ?? undefined);
      this.watched = watched;
      this.unsubscribe = ctx.containers.onChange(({ kind, container }) => {
        if (kind === 'start' && watched.matches(container)) watched.add(container);
        else if (kind === 'stop') watched.remove(container);
      });
      const notRunning = watched.addRunning();
      if (notRunning.length > 0) {
        ctx.logger.info({ plugin: this.name, containers: notRunning }, 'watched containers not running yet: they are watched when they start');
      }
    }

    this.drainer = new CounterDrainer(
      obj.map('counts', countKeyCodec, countValueCodec),
      this.table,
      ctx.host,
      ctx.clock,
      ctx.containers,
      obj.map('proc_comm', codec.u32, codec.cstring(16)),
    );
    this.timer = setInterval(() => this.drainCounters(), o.drainIntervalMs);
    this.timer.unref();
  }

  /** Drain the counters now (also runs every drainIntervalMs); returns the number of events. */
  drainCounters(): number {
    if (!this.drainer) return 0;
    try {
      const { events, keys } = this.drainer.drain();
      this.counterDrains++;
      this.counterKeys = keys;
      for (const e of events) this.emit(e);
      return events.length;
    } catch (err) {
      this.counterDrainErrors++;
      // Without batch lookup-and-delete there is no lossless drain: counters cannot work.
      if (isBoxwatchError(err, 'ERR_NOT_SUPPORTED')) this.ctx?.fail(err);
      else if (this.counterDrainErrors <= 10) this.ctx?.logger.warn({ plugin: this.name, err }, 'draining syscall counters failed');
      return 0;
    }
  }

  /** The kernel sequence filter (`sequence: 'kernel'`), once started; null otherwise. */
  get kernelSequence(): KernelSequence | null {
    return this.kseq;
  }

  /** Set a profile's (image's) kernel sequence mode. */
  setSequenceMode(image: string, mode: KernelSequenceMode): void {
    this.requireKseq().setMode(image, mode);
  }

  /** Add known n-grams (STIDE packed10 keys) to a profile; returns how many were new. */
  addKnownNgrams(image: string, keys: Iterable<number>): number {
    return this.requireKseq().addKnown(image, keys);
  }

  private requireKseq(): KernelSequence {
    if (!this.kseq) throw new BoxwatchError('ERR_STATE', "kernel sequence filtering is not running (sequence: 'kernel', plugin started)");
    return this.kseq;
  }

  /**
   * Deliver pending mismatch records, then drain learn counts and match counters into events
   * (also runs every kernelSequence.drainIntervalMs). Returns the number of drained events.
   */
  drainSequence(): number {
    if (!this.kseq) return 0;
    try {
      // Records first: a container's mismatches reach the model before the counter totals that
      // include the matches around them.
      this.drainRingBuffers();
      const events = this.kseq.drain();
      for (const e of events) this.emit(e);
      return events.length;
    } catch (err) {
      this.kseqDrainErrors++;
      if (isBoxwatchError(err, 'ERR_NOT_SUPPORTED')) this.ctx?.fail(err);
      else if (this.kseqDrainErrors <= 10) this.ctx?.logger.warn({ plugin: this.name, err }, 'draining kernel sequence maps failed');
      return 0;
    }
  }

  protected override async onStop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.kseqTimer) clearInterval(this.kseqTimer);
    this.kseqTimer = null;
    this.drainSequence();
    this.kseq = null;
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.drainCounters();
    this.drainer = null;
    this.watched = null;
  }

  /** Kernel-side drops by reason, summed over CPUs. */
  private kernelDrops(): Record<string, number> {
    const out: Record<string, number> = {};
    if (!this.obj || !this.obj.loaded) return out;
    const drops = this.obj.map('drops', codec.u32, codec.u64n);
    DROP_REASONS.forEach((reason, i) => {
      out[reason] = (drops.lookupPerCpu(i) ?? []).reduce((a, b) => a + b, 0);
    });
    return out;
  }

  override stats(): PluginStats {
    const base = super.stats();
    const drops = this.kernelDrops();
    const dropped = Object.values(drops).reduce((a, b) => a + b, 0);
    return {
      ...base,
      lost: base.lost + dropped,
      kernelDrops: drops,
      undecodableRecords: this.undecodable,
      counters: {
        drains: this.counterDrains,
        keysLastDrain: this.counterKeys,
        capacity: this.options.maxCounterKeys,
        // A drain that found the map full means the LRU evicted (lost) counts in that interval.
        saturated: this.counterKeys >= this.options.maxCounterKeys,
        drainErrors: this.counterDrainErrors,
      },
      watchedContainers: this.watched?.size ?? null,
      unresolvedWatchedContainers: this.watched?.unresolved ?? 0,
      detailSyscalls: this.options.detail.map((d) => d.name),
      kernelSequence: this.kseq
        ? { profiles: this.kseq.profiles().map(({ containers, ...p }) => ({ ...p, containers: containers.length })), knownFull: this.kseq.knownFull, learnedKeys: this.kseq.learnedKeys, drainErrors: this.kseqDrainErrors }
        : null,
    };
  }
}
