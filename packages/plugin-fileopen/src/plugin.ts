import { fileURLToPath } from 'node:url';
import {
  BpfPlugin,
  codec,
  configError,
  isBoxwatchError,
  recordType,
  type BpfMap,
  type BpfObject,
  type HookVariant,
  type PluginContext,
  type PluginStats,
  type RingBufferSpec,
} from '@boxwatch/core';
import { deny_prefix_key as KEY, fileopen_config as CFG } from './generated/layout.js';
import { decodeFileOpen, RECORD_OPEN } from './decode.js';
import { denyHint, parseDenyPrefixes, prefixKey, type DenyPrefix, type DenyRule } from './deny-prefixes.js';
import { resolveOptions, type FileOpenOptions, type ResolvedOptions } from './options.js';

/** Hook variants in order of preference (the issue: the seed's kretprobe first, tracepoints as fallback). */
export const FILEOPEN_VARIANTS: readonly HookVariant[] = [
  {
    name: 'kretprobe',
    programs: ['kp_do_filp_open', 'krp_do_filp_open'],
    requires: ['kprobe', 'ringbuf', 'bpf_loop'],
    description: 'kprobe + kretprobe on do_filp_open: the struct file straight from the kernel (ret is 0 on success: no fd yet)',
  },
  {
    name: 'tp_btf',
    programs: ['tp_sys_exit'],
    requires: ['tp_btf', 'ringbuf', 'bpf_loop'],
    description:
      'tp_btf sys_exit for open, openat, openat2, creat (arguments from the syscall registers, no enter stash); the returned fd is resolved through the fd table and the path walked with direct BTF loads',
  },
  {
    name: 'raw_tp',
    programs: ['raw_sys_enter', 'raw_sys_exit'],
    requires: ['raw_tp', 'ringbuf', 'bpf_loop'],
    description: 'raw tracepoints sys_enter/sys_exit: arguments stashed at enter, the fd resolved and the path walked with probe reads',
  },
];

/** Indices of the kernel's `counters` map (CNT_* in bpf/fileopen.bpf.c). */
const CNT = { pendingFull: 0, unresolved: 1, denied: 2, filtered: 3 } as const;

const keyCodec = codec.struct<{ prefixlen: number; data: Buffer }>(KEY.size, {
  prefixlen: [KEY.offsets.prefixlen, codec.u32],
  data: [KEY.offsets.data, codec.bytes(KEY.sizes.data)],
});
const configCodec = codec.struct<{ only_writes: number; filter_cgroups: number }>(CFG.size, {
  only_writes: [CFG.offsets.only_writes, codec.u8],
  filter_cgroups: [CFG.offsets.filter_cgroups, codec.u8],
});

export interface FileOpenStats extends PluginStats {
  /** Opens dropped because the per-thread enter stash was full (counted in `lost` too). */
  pendingFull: number;
  /** Successful opens whose fd no longer resolved at exit (reported with the argument path). */
  unresolved: number;
  /** Opens dropped by the deny-prefix list. */
  denied: number;
  /** Opens dropped by only-writes mode or the watched-containers filter. */
  filtered: number;
  /**
   * tp_btf variant: true when the path walk uses direct BTF loads (bpf_rdonly_cast, Linux 6.2+),
   * false when the kernel rejected that and the probe-read walk was loaded instead.
   */
  directWalk?: boolean;
}

/**
 * file.open events: every file a container opens, with the path the container sees, the
 * filesystem type, decoded flags and the result. See docs/events/file.md.
 */
export class FileOpenPlugin extends BpfPlugin {
  readonly name = 'fileopen';
  readonly eventTypes = ['file.open'] as const;
  readonly variants: readonly HookVariant[];
  protected readonly objectPath: string;
  private readonly opts: ResolvedOptions;
  private denyRules: DenyRule[];
  private onlyWrites: boolean;
  private watched: readonly string[] | null;
  private watchedIds = new Set<bigint>();
  private unsubscribe: (() => void) | null = null;
  /** tp_btf: load the direct-load walk; cleared when the kernel rejects it (before Linux 6.2). */
  private directWalk: boolean;

  constructor(options: FileOpenOptions = {}, objectPath?: string) {
    super();
    this.opts = resolveOptions(options);
    this.ringBufferTuning = this.opts.ringBuffer;
    this.denyRules = this.opts.denyRules;
    this.onlyWrites = this.opts.onlyWrites;
    this.watched = this.opts.containers;
    this.directWalk = this.opts.pathWalk === 'auto';
    this.variants = this.opts.variant ? FILEOPEN_VARIANTS.filter((v) => v.name === this.opts.variant) : FILEOPEN_VARIANTS;
    this.objectPath = objectPath ?? defaultObjectPath();
  }

  protected override configure(obj: BpfObject, variant: HookVariant): void {
    const tpBtf = variant.name === 'tp_btf';
    obj.setGlobals({
      include_host: this.opts.includeHost,
      max_depth: this.opts.maxDepth,
      direct_walk: tpBtf && this.directWalk,
      ring_bytes: BigInt(this.opts.ringBytes),
    });
    obj.setMaxEntries('events', this.opts.ringBytes);
    // Only the enter/exit variants stash per thread; tp_btf reads the arguments at exit, so its
    // stash is not allocated (a preallocated 16384-entry hash is most of the object's memory).
    if (tpBtf) obj.setMaxEntries('pending', 1);
  }

  override async start(ctx: PluginContext): Promise<void> {
    try {
      await super.start(ctx);
    } catch (err) {
      // Kernels before 6.2 have no bpf_rdonly_cast: the verifier rejects the direct walk. Load
      // the same program with the probe-read walk instead.
      if (this.variant?.name !== 'tp_btf' || !this.directWalk || !isBoxwatchError(err, 'ERR_VERIFIER')) throw err;
      ctx.logger.info(
        { plugin: this.name, reason: (err as Error).message.slice(0, 300) },
        'direct BTF path walk rejected by the verifier (needs bpf_rdonly_cast, Linux 6.2+); using the probe-read walk',
      );
      this.directWalk = false;
      await super.start(ctx);
    }
  }

  protected override onLoaded(obj: BpfObject, ctx: PluginContext): void {
    this.writeDenyRules(obj, this.denyRules);
    this.unsubscribe = ctx.containers.onChange(({ kind }) => {
      // A watched container that starts later gets its cgroup id now.
      if (kind === 'start' && this.watched) this.writeWatched();
    });
    this.writeWatched();
  }

  protected override async onStop(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = null;
  }

  protected override ringBuffers(): RingBufferSpec[] {
    const ctx = this.decodeContext();
    return [
      {
        map: 'events',
        options: { drainMs: this.opts.drainMs },
        onRecord: (view, off, len) => {
          // Only one record type today; the check keeps a future type from being misread.
          const type = recordType(view, off);
          if (type !== RECORD_OPEN) throw new RangeError(`unknown fileopen record type ${type}`);
          this.emit(decodeFileOpen(view, off, len, ctx));
        },
      },
    ];
  }

  /** Replace the deny list while running (or before start). Takes effect for the next open. */
  setDenyPrefixes(prefixes: readonly DenyPrefix[]): void {
    const rules = parseDenyPrefixes(prefixes, 'setDenyPrefixes');
    if (this.obj) this.writeDenyRules(this.obj, rules);
    this.denyRules = rules;
  }

  /** The deny list in force. */
  denyPrefixes(): DenyRule[] {
    return this.denyRules.map((r) => ({ ...r }));
  }

  /** Switch only-writes mode while running. */
  setOnlyWrites(on: boolean): void {
    if (typeof on !== 'boolean') throw configError('setOnlyWrites', 'must be a boolean');
    this.onlyWrites = on;
    if (this.obj) this.writeConfig(this.obj);
  }

  /** Report only these containers (ids, 12+ hex prefixes or names), or every container with null. */
  watchContainers(containers: readonly string[] | null): void {
    if (containers !== null && (!Array.isArray(containers) || containers.some((c) => typeof c !== 'string' || c.length === 0))) {
      throw configError('watchContainers', 'must be an array of container ids or names, or null');
    }
    this.watched = containers ? [...containers] : null;
    if (this.obj) this.writeWatched();
  }

  /** Report only these cgroup ids (the kernel's container key), or every container with null. */
  watchCgroups(ids: readonly bigint[] | null): void {
    this.watched = ids ? [] : null;
    this.watchedIds = new Set(ids ?? []);
    if (this.obj) this.syncWatchedMap(this.obj);
  }

  private writeWatched(): void {
    const ctx = this.ctx;
    if (!this.obj || !ctx) return;
    if (this.watched && this.watched.length > 0) {
      const ids = new Set<bigint>();
      for (const ref of this.watched) {
        const c = ctx.containers.find(ref);
        const id = c ? ctx.containers.cgroupIdOf(c.id) : null;
        if (id !== null) ids.add(id);
      }
      this.watchedIds = ids;
    } else if (this.watched === null) {
      this.watchedIds = new Set();
    }
    this.syncWatchedMap(this.obj);
  }

  private syncWatchedMap(obj: BpfObject): void {
    const map = obj.map('watched_cgroups', codec.u64, codec.u8);
    for (const k of [...map.keys()]) if (!this.watchedIds.has(k)) map.delete(k);
    for (const id of this.watchedIds) map.update(id, 1);
    this.writeConfig(obj);
  }

  private writeConfig(obj: BpfObject): void {
    obj.map('fo_config', codec.u32, configCodec).update(0, { only_writes: this.onlyWrites ? 1 : 0, filter_cgroups: this.watched === null ? 0 : 1 });
  }

  private writeDenyRules(obj: BpfObject, rules: readonly DenyRule[]): void {
    const map: BpfMap<{ prefixlen: number; data: Buffer }, number> = obj.map('deny_prefixes', keyCodec, codec.u32);
    const hint = obj.map('deny_hint', codec.u32, codec.bytes(32));
    const wanted = new Map(rules.map((r) => [r.prefix, r.action]));
    const existing = [...map.keys()].map((k) => ({ key: k, prefix: k.data.subarray(0, k.prefixlen / 8).toString() }));
    // The hint covers old and new prefixes while the trie changes (a hint bit too many only
    // costs a lookup), and exactly the new ones after.
    hint.update(0, denyHint([...wanted.keys(), ...existing.map((e) => e.prefix)]));
    // Add and update first, then delete what is gone, so an entry kept across the change never
    // has a window in which it is missing.
    for (const [prefix, action] of wanted) map.update(prefixKey(prefix), action);
    for (const { key, prefix } of existing) if (!wanted.has(prefix)) map.delete(key);
    hint.update(0, denyHint(wanted.keys()));
  }

  private counter(index: number): number {
    if (!this.obj) return 0;
    const per = this.obj.map('counters', codec.u32, codec.u64).lookupPerCpu(index);
    return per ? Number(per.reduce((a, b) => a + b, 0n)) : 0;
  }

  override stats(): FileOpenStats {
    const base = super.stats();
    const pendingFull = this.counter(CNT.pendingFull);
    return {
      ...base,
      lost: base.lost + pendingFull,
      pendingFull,
      unresolved: this.counter(CNT.unresolved),
      denied: this.counter(CNT.denied),
      filtered: this.counter(CNT.filtered),
      ...(this.variant?.name === 'tp_btf' ? { directWalk: this.directWalk } : {}),
    };
  }
}

/** The shipped object: bpf/fileopen.bpf.o next to src/ (tests, sources) or dist/ (package). */
export function defaultObjectPath(): string {
  return fileURLToPath(new URL('../bpf/fileopen.bpf.o', import.meta.url));
}
