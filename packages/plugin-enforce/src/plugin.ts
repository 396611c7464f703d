import { fileURLToPath } from 'node:url';
import {
  BpfPlugin,
  codec,
  configError,
  recordType,
  type BpfMap,
  type BpfObject,
  type HookVariant,
  type KnownContainer,
  type PluginContext,
  type PluginStats,
  type RingBufferSpec,
} from '@boxwatch/core';
import {
  enforce_cgroup_name as NAME,
  enforce_connect_key as CK,
  enforce_masks as M,
  enforce_policy as P,
  enforce_prefix_key as PK,
} from './generated/layout.js';
import { compile, MAX_POLICIES, type Compiled, type SlottedPolicy } from './compile.js';
import { decodeEnforce, ENFORCE_EVENT_TYPES, RECORD_ACTION } from './decode.js';
import type { Policy } from './policy.js';
import { cgroupNamesOf, policySelects } from './select.js';

const CORE_PROGRAMS = ['en_sys_enter', 'en_sys_exit', 'en_exec', 'en_cgroup_mkdir'];

/** Hook variants in order of preference (docs/enforcement.md says what each guarantees). */
export const ENFORCE_VARIANTS: readonly HookVariant[] = [
  {
    name: 'lsm-deny',
    programs: ['en_lsm_bprm', 'en_lsm_file_open', 'en_lsm_sb_mount', 'en_lsm_ptrace', 'en_lsm_bpf', 'en_lsm_socket_connect', ...CORE_PROGRAMS],
    requires: ['lsm', 'tp_btf', 'ringbuf'],
    description: 'BPF LSM hooks refuse deny policies with -EPERM before the operation; kill and audit as in syscall-kill',
  },
  {
    name: 'syscall-kill',
    programs: CORE_PROGRAMS,
    requires: ['tp_btf', 'ringbuf'],
    description: 'tp_btf sys_enter / sched_process_exec: SIGKILL on the way back to user space (the syscall itself completes); deny degrades to kill',
  },
];

/** Indices of the kernel's `counters` map (CNT_* in bpf/enforce.bpf.c). */
const CNT = { actions: 0, signalFailed: 1, written: 2, selectedByName: 3 } as const;

const policyCodec = codec.struct<{ id: number; action: number; thread: number; dry_run: number }>(P.size, {
  id: [P.offsets.id, codec.u32],
  action: [P.offsets.action, codec.u8],
  thread: [P.offsets.thread, codec.u8],
  dry_run: [P.offsets.dry_run, codec.u8],
});
type Masks = Compiled['masks'];
const masksCodec = codec.struct<Masks>(M.size, {
  exec_prefix: [M.offsets.exec_prefix, codec.u64],
  exec_written: [M.offsets.exec_written, codec.u64],
  open_write: [M.offsets.open_write, codec.u64],
  connect: [M.offsets.connect, codec.u64],
  host: [M.offsets.host, codec.u64],
  deny: [M.offsets.deny, codec.u64],
});
const prefixCodec = codec.struct<{ prefixlen: number; data: Buffer }>(PK.size, {
  prefixlen: [PK.offsets.prefixlen, codec.u32],
  data: [PK.offsets.data, codec.bytes(PK.sizes.data)],
});
const connectCodec = codec.struct<{ addr: Buffer; port: number }>(CK.size, {
  addr: [CK.offsets.addr, codec.bytes(16)],
  port: [CK.offsets.port, codec.u16],
});
const nameCodec = codec.bytes(NAME.size);
const commCodec = codec.bytes(16);

function fixedString(s: string, size: number): Buffer {
  const b = Buffer.alloc(size);
  b.write(s, 'utf8');
  return b;
}

export interface EnforceOptions {
  /** Policies in force at start (parsed with parsePolicyText / loadPolicyFile). */
  policies?: readonly Policy[];
  /** Force one variant (tests, or to refuse LSM deliberately). */
  variant?: 'lsm-deny' | 'syscall-kill';
}

export interface EnforceStats extends PluginStats {
  policies: number;
  /** Signals sent and denials returned. */
  actions: number;
  /** Signals the kernel refused to queue (the task was not killed; its event says `failed`). */
  signalFailed: number;
  /** Files recorded as written (exec.writtenFiles). */
  writtenFiles: number;
  /** Cgroups selected by the kernel from their name at creation (before userspace knew their id). */
  selectedByName: number;
  /** Selected cgroups in the kernel now. */
  selectedCgroups: number;
  /** true when deny policies degrade to kill (no BPF LSM). */
  denyDegraded: boolean;
}

/**
 * enforce.* events: policies evaluated in the kernel that audit, kill or deny. See
 * docs/enforcement.md and docs/events/enforce.md.
 */
export class EnforcePlugin extends BpfPlugin {
  readonly name = 'enforce';
  readonly eventTypes = ENFORCE_EVENT_TYPES;
  readonly variants: readonly HookVariant[];
  protected readonly objectPath: string;
  private slotted: SlottedPolicy[] = [];
  private nextId = 1;
  /** Policy ids seen in events: kept after removal so late records still name their policy. */
  private readonly names = new Map<number, { name: string; dryRun: boolean }>();
  /** Containers announced (create) or running, by id. */
  private readonly known = new Map<string, KnownContainer>();
  private unsubscribe: Array<() => void> = [];

  constructor(options: EnforceOptions = {}, objectPath?: string) {
    super();
    this.variants = options.variant ? ENFORCE_VARIANTS.filter((v) => v.name === options.variant) : ENFORCE_VARIANTS;
    this.objectPath = objectPath ?? defaultObjectPath();
    this.place(options.policies ?? []);
  }

  /** The variant chosen at start (null before). */
  variantName(): string | null {
    return this.variant?.name ?? null;
  }

  /** True when deny policies are enforced as kills (no BPF LSM on this kernel). */
  denyDegraded(): boolean {
    return this.variant !== null && this.variant.name !== 'lsm-deny';
  }

  protected override configure(obj: BpfObject, variant: HookVariant): void {
    obj.setGlobals({ agent_tgid: process.pid, lsm_deny: variant.name === 'lsm-deny' });
  }

  protected override onLoaded(obj: BpfObject, ctx: PluginContext): void {
    if (this.denyDegraded() && this.slotted.some((s) => s.policy.action === 'deny')) {
      ctx.logger.warn({ plugin: this.name }, 'BPF LSM unavailable: deny policies are enforced as kill at syscall entry (the syscall completes first)');
    }
    for (const c of ctx.containers.list()) this.known.set(c.id, c);
    this.unsubscribe.push(
      ctx.containers.onChange(({ kind, container }) => {
        if (kind === 'start') this.known.set(container.id, container);
        else this.known.delete(container.id);
        this.syncSelection(obj, kind === 'stop' ? container : null);
      }),
    );
    if (ctx.containers.onCreated) {
      this.unsubscribe.push(
        ctx.containers.onCreated((container) => {
          this.known.set(container.id, container);
          this.syncSelection(obj, null);
        }),
      );
    }
    this.writePolicies(obj);
  }

  protected override onStop(): void {
    for (const u of this.unsubscribe) u();
    this.unsubscribe = [];
    this.known.clear();
  }

  protected override ringBuffers(): RingBufferSpec[] {
    const ctx = this.decodeContext();
    const names = { byId: (id: number) => this.names.get(id) ?? null };
    return [
      {
        map: 'events',
        onRecord: (view, off, len) => {
          const type = recordType(view, off);
          if (type !== RECORD_ACTION) throw new RangeError(`unknown enforce record type ${type}`);
          this.emit(decodeEnforce(view, off, len, ctx, names));
        },
      },
    ];
  }

  /** Policies in force. */
  policies(): Policy[] {
    return this.slotted.map((s) => s.policy);
  }

  /**
   * Add policies (all or none): a name already loaded, or more than 64 policies, is refused with
   * the policies in force unchanged.
   */
  addPolicies(policies: readonly Policy[]): void {
    const names = new Set(this.slotted.map((s) => s.policy.name));
    for (const p of policies) {
      if (names.has(p.name)) throw configError(`policy ${p.name}`, 'a policy of this name is already loaded (remove it first)', p.source);
      names.add(p.name);
    }
    if (this.slotted.length + policies.length > MAX_POLICIES) {
      throw configError('policies', `at most ${MAX_POLICIES} policies can be loaded (${this.slotted.length} are)`);
    }
    this.place(policies);
    if (this.obj) this.writePolicies(this.obj);
    const denied = policies.filter((p) => p.action === 'deny').map((p) => p.name);
    if (this.denyDegraded() && denied.length) {
      this.ctx?.logger.warn({ plugin: this.name, policies: denied }, 'BPF LSM unavailable: these deny policies are enforced as kill at syscall entry (the syscall completes first)');
    }
  }

  /** Remove a policy by name; false when none had that name. */
  removePolicy(name: string): boolean {
    const before = this.slotted.length;
    this.slotted = this.slotted.filter((s) => s.policy.name !== name);
    if (this.slotted.length === before) return false;
    if (this.obj) this.writePolicies(this.obj);
    return true;
  }

  private place(policies: readonly Policy[]): void {
    const used = new Set(this.slotted.map((s) => s.slot));
    for (const policy of policies) {
      let slot = 0;
      while (used.has(slot)) slot++;
      used.add(slot);
      const id = this.nextId++;
      this.names.set(id, { name: policy.name, dryRun: policy.dryRun });
      this.slotted.push({ slot, id, policy });
    }
  }

  /** Mask of the policies selecting container `c`. */
  private maskOf(c: KnownContainer): bigint {
    let m = 0n;
    for (const s of this.slotted) if (policySelects(s.policy, c)) m |= 1n << BigInt(s.slot);
    return m;
  }

  /**
   * Write every map from the policy list. Order keeps the kernel consistent at each step: policy
   * slots and argument maps first, selection last when adding; a removed policy's selection bits
   * go before its slot is cleared.
   */
  private writePolicies(obj: BpfObject): void {
    const c = compile(this.slotted);
    const pol = obj.map('en_policies', codec.u32, policyCodec);
    for (let slot = 0; slot < MAX_POLICIES; slot++) {
      const v = c.policies.get(slot);
      if (v) pol.update(slot, v);
    }
    const sys = obj.map('en_syscalls', codec.u32, codec.u64);
    for (const [nr, m] of c.syscalls) sys.update(nr, m);
    this.syncTrie(obj.map('en_exec_prefixes', prefixCodec, codec.u64), c.execPrefixes);
    this.syncTrie(obj.map('en_write_prefixes', prefixCodec, codec.u64), c.writePrefixes);
    const conn = obj.map('en_connect', connectCodec, codec.u64);
    const wantedConn = new Set<string>();
    for (const { addr, port, mask } of c.connect.values()) {
      conn.update({ addr, port }, mask);
      wantedConn.add(`${addr.toString('hex')}/${port}`);
    }
    const comms = obj.map('en_host_comms', commCodec, codec.u64);
    for (const [comm, m] of c.hostComms) comms.update(fixedString(comm, 16), m);
    obj.map('en_masks', codec.u32, masksCodec).update(0, c.masks);
    this.syncSelection(obj, null);
    // Now drop what no policy needs any more.
    for (const k of [...conn.keys()]) if (!wantedConn.has(`${k.addr.toString('hex')}/${k.port}`)) conn.delete(k);
    for (const k of [...comms.keys()]) if (!c.hostComms.has(k.toString('utf8').replace(/\0+$/, ''))) comms.delete(k);
    for (let nr = 0; nr < 512; nr++) if (!c.syscalls.has(nr) && (sys.lookup(nr) ?? 0n) !== 0n) sys.update(nr, 0n);
    for (let slot = 0; slot < MAX_POLICIES; slot++) if (!c.policies.has(slot)) pol.update(slot, { id: 0, action: 0, thread: 0, dry_run: 0 });
  }

  private syncTrie(map: BpfMap<{ prefixlen: number; data: Buffer }, bigint>, wanted: Map<string, bigint>): void {
    const key = (prefix: string) => {
      const data = Buffer.alloc(PK.sizes.data);
      const n = data.write(prefix, 'utf8');
      return { prefixlen: n * 8, data };
    };
    for (const [prefix, m] of wanted) map.update(key(prefix), m);
    for (const k of [...map.keys()]) {
      const prefix = k.data.subarray(0, k.prefixlen / 8).toString('utf8');
      if (!wanted.has(prefix)) map.delete(k);
    }
  }

  /**
   * Selected cgroups (en_cgroups) and announced names (en_pending) from the known containers.
   * Entries the kernel added itself (selected by name) are kept while their container is known to
   * the resolver and re-masked like the others; `stopped` is removed.
   */
  private syncSelection(obj: BpfObject, stopped: KnownContainer | null): void {
    const ctx = this.ctx;
    if (!ctx) return;
    const cgroups = obj.map('en_cgroups', codec.u64, codec.u64);
    const pending = obj.map('en_pending', nameCodec, codec.u64);
    const wantedCg = new Map<bigint, bigint>();
    const wantedNames = new Map<string, bigint>();
    for (const c of this.known.values()) {
      const m = this.maskOf(c);
      if (m === 0n) continue;
      for (const n of cgroupNamesOf(c.id)) wantedNames.set(n, m);
      const id = ctx.containers.cgroupIdOf(c.id);
      if (id !== null) wantedCg.set(id, m);
    }
    for (const [n, m] of wantedNames) pending.update(fixedString(n, NAME.size), m);
    for (const [id, m] of wantedCg) cgroups.update(id, m);
    for (const k of [...pending.keys()]) if (!wantedNames.has(k.toString('utf8').replace(/\0+$/, ''))) pending.delete(k);
    const stoppedId = stopped ? ctx.containers.cgroupIdOf(stopped.id) : null;
    for (const id of [...cgroups.keys()]) {
      if (wantedCg.has(id)) continue;
      // Selected in the kernel by name: recompute from the container the resolver names.
      const c = id === stoppedId ? null : ctx.containers.byCgroupId(id);
      const m = c ? this.maskOf(c) : 0n;
      if (m === 0n) cgroups.delete(id);
      else cgroups.update(id, m);
    }
  }

  private counter(index: number): number {
    if (!this.obj) return 0;
    const per = this.obj.map('counters', codec.u32, codec.u64).lookupPerCpu(index);
    return per ? Number(per.reduce((a, b) => a + b, 0n)) : 0;
  }

  override stats(): EnforceStats {
    return {
      ...super.stats(),
      policies: this.slotted.length,
      actions: this.counter(CNT.actions),
      signalFailed: this.counter(CNT.signalFailed),
      writtenFiles: this.counter(CNT.written),
      selectedByName: this.counter(CNT.selectedByName),
      selectedCgroups: this.obj ? [...this.obj.map('en_cgroups', codec.u64, codec.u64).keys()].length : 0,
      denyDegraded: this.denyDegraded(),
    };
  }
}

/** The shipped object: bpf/enforce.bpf.o next to src/ (tests, sources) or dist/ (package). */
export function defaultObjectPath(): string {
  return fileURLToPath(new URL('../bpf/enforce.bpf.o', import.meta.url));
}
