import { BpfObject, type AttachOptions } from './bpf-object.js';
import { BoxwatchError } from './errors.js';
import type { IEvent } from './event.js';
import type { HookVariant, PluginContext, PluginStats, Userspace } from './plugin.js';
import type { RecordHandler, RingBufferOptions, RingBufferReader, RingBufferStats, RingBufferTuning } from './ring-buffer.js';
import { chooseVariant } from './variant.js';
import type { DecodeContext } from './decode.js';

export interface RingBufferSpec {
  /** Ring buffer map name (declared with BW_RINGBUF). */
  map: string;
  onRecord: RecordHandler;
  options?: Omit<RingBufferOptions, 'lostCounter' | 'idleFlagMapFd'>;
}

/**
 * Base class for plugins with a BPF program: picks the hook variant by probing, opens the object,
 * disables the programs of the variants not chosen, lets the subclass set globals, loads,
 * attaches the chosen variant's programs, reads its ring buffers and tears everything down on
 * stop(). A plugin author implements `objectPath`, `variants`, `eventTypes`, `ringBuffers()` and
 * usually `configure()` (globals before load) and `onLoaded()` (maps, timers).
 */
export abstract class BpfPlugin implements Userspace {
  abstract readonly name: string;
  abstract readonly variants: readonly HookVariant[];
  abstract readonly eventTypes: readonly string[];
  /** Path of the compiled `.bpf.o` this plugin loads. */
  protected abstract readonly objectPath: string;

  protected obj: BpfObject | null = null;
  protected ctx: PluginContext | null = null;
  protected variant: HookVariant | null = null;
  private readers: RingBufferReader[] = [];
  /** Applied to every ring buffer of the plugin (its `ringBuffer` option, resolveRingBufferTuning). */
  protected ringBufferTuning: RingBufferTuning = {};
  private emitted = 0;
  private readerErrors = 0;

  /** Set `const volatile` globals and map sizes before load. */
  protected configure(_obj: BpfObject, _variant: HookVariant, _ctx: PluginContext): void {}

  /** After load and attach: fill maps (tail-call tables, filters), start timers. */
  protected onLoaded(_obj: BpfObject, _ctx: PluginContext): void | Promise<void> {}

  /** Before the object closes: stop timers, do a last drain of aggregated maps. */
  protected onStop(): void | Promise<void> {}

  /** Ring buffers to read. Called after load. */
  protected ringBuffers(): RingBufferSpec[] {
    return [];
  }

  /** How to attach a program of the chosen variant (default: by its section name). */
  protected attachOptions(_program: string): AttachOptions | undefined {
    return undefined;
  }

  /** Programs of the chosen variant that are loaded but not attached (tail-call targets). */
  protected isTailCallTarget(_program: string): boolean {
    return false;
  }

  /** Hand an event to the Collector. */
  protected emit(event: IEvent): void {
    this.emitted++;
    this.ctx?.emit(event);
  }

  private decodeCtx: DecodeContext | null = null;

  /** The context decoders pass to decodeHeader (one object per start: it carries decode caches). */
  protected decodeContext(): DecodeContext {
    if (!this.decodeCtx) {
      const ctx = this.requireContext();
      this.decodeCtx = { host: ctx.host, clock: ctx.clock, containers: ctx.containers };
    }
    return this.decodeCtx;
  }

  protected requireContext(): PluginContext {
    if (!this.ctx) throw new BoxwatchError('ERR_STATE', `plugin ${this.name} is not started`);
    return this.ctx;
  }

  async start(ctx: PluginContext): Promise<void> {
    if (this.obj) throw new BoxwatchError('ERR_STATE', `plugin ${this.name} is already started`);
    const { variant, skipped } = chooseVariant(this.name, this.variants, ctx.features);
    for (const s of skipped) ctx.logger.info({ plugin: this.name, variant: s.variant, missing: s.missing }, 'hook variant skipped');
    ctx.logger.info({ plugin: this.name, variant: variant.name }, 'hook variant chosen');
    this.ctx = ctx;
    this.decodeCtx = null;
    this.variant = variant;
    const obj = BpfObject.open(this.objectPath);
    this.obj = obj;
    try {
      const chosen = new Set(variant.programs);
      for (const v of this.variants) for (const p of v.programs) if (!chosen.has(p)) obj.setAutoload(p, false);
      this.configure(obj, variant, ctx);
      obj.load();
      for (const program of variant.programs) {
        if (!this.isTailCallTarget(program)) obj.attach(program, this.attachOptions(program));
      }
      this.readers = this.ringBuffers().map((rb) =>
        obj.ringBuffer(rb.map, rb.onRecord, {
          ...this.ringBufferTuning,
          ...rb.options,
          onError: (err) => {
            this.readerErrors++;
            if (this.readerErrors <= 10) ctx.logger.warn({ plugin: this.name, err }, 'record decoding failed');
          },
        }),
      );
      await this.onLoaded(obj, ctx);
    } catch (err) {
      obj.close();
      this.obj = null;
      this.ctx = null;
      throw err;
    }
  }

  async stop(): Promise<void> {
    if (!this.obj) return;
    try {
      await this.onStop();
      this.drainRingBuffers();
    } finally {
      this.obj.close();
      this.obj = null;
      this.readers = [];
    }
  }

  /**
   * Consume everything waiting in this plugin's ring buffers now (bounded): lets a plugin deliver
   * streamed records before the aggregates it drains from maps, keeping events in order.
   */
  protected drainRingBuffers(maxSlices = 16): number {
    let n = 0;
    for (const r of this.readers) n += r.drain(maxSlices);
    return n;
  }

  /** Ring-buffer statistics of each reader (records, batches, lost, decode errors). */
  protected ringBufferStats(): Record<string, RingBufferStats> {
    return Object.fromEntries(this.readers.map((r) => [r.mapName, r.stats()]));
  }

  stats(): PluginStats {
    const rings = this.ringBufferStats();
    const lost = Object.values(rings).reduce((a, s) => a + s.lost, 0);
    return { events: this.emitted, lost, variant: this.variant?.name, ringBuffers: rings, decodeErrors: this.readerErrors };
  }
}
