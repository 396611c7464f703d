import { statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import Docker from 'dockerode';
import {
  BoxwatchError,
  BpfPlugin,
  codec,
  configError,
  recordType,
  type BpfMap,
  type BpfObject,
  type HookVariant,
  type PluginContext,
  type PluginStats,
  type RingBufferSpec,
} from '@boxwatch/core';
import { parseAddress } from './address.js';
import { ContainerIpIndex, type ContainerRef } from './container-ips.js';
import { decodeRecord, EVENT_TYPES, RecordType } from './events.js';
import { FlowReader } from './flows.js';
import { cn_flow, cn_flow_end_record, cn_flow_key, cn_netns_ban, cn_netns_key, cn_pair_key } from './generated/layout.js';

const FLOW_END_SIZE = cn_flow_end_record.size;
import { resolveOptions, type CNetworkOptions, type ResolvedOptions } from './options.js';
import { expandNetnsPairs, expandPairs, parseRule, type BannedPairInput, type BannedPairRule, type Endpoint, type RuleView } from './rules.js';

const DROP_SLOTS = ['tcpFlowMapFull', 'udpFlowMapFull', 'listenerMapFull'] as const;

/**
 * Classic syscall tracepoints that tell the tp_btf variant where a sendto/sendmsg/sendmmsg sends
 * (the destination of an unconnected UDP socket is not visible at sock_send_length). Optional: when
 * classic tracepoints are missing, UDP flows of unconnected sockets have no destination.
 */
const SEND_DEST_PROGRAMS = [
  'cn_sys_enter_sendto',
  'cn_sys_exit_sendto',
  'cn_sys_enter_sendmsg',
  'cn_sys_exit_sendmsg',
  'cn_sys_enter_sendmmsg',
  'cn_sys_exit_sendmmsg',
] as const;

/**
 * Classic syscall exit tracepoints that give UDP receives their source address: the tp_btf receive
 * hook runs before the syscall copies the address to the caller's msg_name, so the datagram is
 * settled at the exit (cnetwork_pending_recv). Optional: without them a UDP receive is counted
 * against the socket's connected peer (unspecified for unconnected sockets).
 */
const RECV_SOURCE_PROGRAMS = ['cn_sys_exit_recvfrom', 'cn_sys_exit_recvmsg', 'cn_sys_exit_recvmmsg'] as const;
/** cnetwork_settings[0] bit: the receive exits are attached (bpf/cnetwork.bpf.c CN_SETTING_RECV_NAMES). */
const SETTING_RECV_NAMES = 1;

/**
 * Container network traffic: connect/accept/listen events, per-flow byte counts and banned-pair
 * events filtered in the kernel by rule maps. The rule methods (addRule, removeRule, listRules)
 * are the public surface the agent's control API calls at run time.
 */
export class CNetworkPlugin extends BpfPlugin {
  readonly name = 'cnetwork';
  readonly variants: readonly HookVariant[] = [
    {
      name: 'tp_btf',
      programs: ['cn_inet_sock_set_state', 'cn_tcp_destroy_sock', 'cn_sock_send_length', 'cn_sock_recv_length'],
      requires: ['tp_btf', 'ringbuf'],
      // sock_send_length / sock_recv_length came with Linux 6.3
      tracepoints: ['inet_sock_set_state', 'tcp_destroy_sock', 'sock_send_length', 'sock_recv_length'],
      description: 'BTF tracepoints: exact per-syscall byte counts in the process context, flows, connect/accept/listen',
    },
    {
      name: 'kprobe',
      programs: ['cn_kp_tcp_transmit_skb', 'cn_kp_tcp_v4_do_rcv'],
      requires: ['kprobe', 'ringbuf'],
      description: "the seed's kprobes on __tcp_transmit_skb / tcp_v4_do_rcv: banned-pair events only, skb-level byte counts",
    },
  ];
  readonly eventTypes = EVENT_TYPES;
  protected readonly objectPath = fileURLToPath(new URL('../bpf/cnetwork.bpf.o', import.meta.url));

  private readonly options: ResolvedOptions;
  private readonly ips: ContainerIpIndex;
  private readonly rules = new Map<string, BannedPairRule>();
  private readonly ruleIdByNumber = new Map<number, string>();
  private nextRuleNumber = 1;
  /** What the kernel's cnetwork_banned holds: "local|remote" → rule number. */
  private installed = new Map<string, number>();
  /** What the kernel's cnetwork_netns_banned holds: "netns|remote" → "rule|local". */
  private installedNetns = new Map<string, string>();
  private banned: BpfMap<Buffer, number> | null = null;
  private netnsBanned: BpfMap<Buffer, Buffer> | null = null;
  private flows: FlowReader | null = null;
  private flowTimer: NodeJS.Timeout | null = null;
  private unsubscribe: (() => void) | null = null;
  private unknownRecords = 0;
  private containerRefreshErrors = 0;
  /** How UDP send destinations are known: 'syscall' (tracepoints attached) or 'socket' (connected peers only). */
  private udpDestinations: 'syscall' | 'socket' = 'socket';
  /** How UDP receive sources are known: 'syscall' (recv exits attached) or 'socket' (connected peers only). */
  private udpSources: 'syscall' | 'socket' = 'socket';

  constructor(options: CNetworkOptions = {}) {
    super();
    this.options = resolveOptions(options);
    this.ringBufferTuning = this.options.ringBuffer;
    // Peers that exited are still named for a few flow intervals (their last flows are reported late).
    this.ips = new ContainerIpIndex(options.docker ?? new Docker(), Math.max(30_000, 3 * this.options.flowIntervalMs));
  }

  // ------------------------------------------------------------------------------------------
  // BpfPlugin hooks

  protected override configure(obj: BpfObject, variant: HookVariant, ctx: PluginContext): void {
    const sendDest = variant.name === 'tp_btf' && ctx.features.tracepoint?.status === 'supported';
    for (const p of [...SEND_DEST_PROGRAMS, ...RECV_SOURCE_PROGRAMS]) obj.setAutoload(p, sendDest);
    // The agent's own network namespace is taken as the host's (the agent runs there: it needs
    // the host's Docker socket and BPF; /proc/1/ns/net may be unreadable in a sandbox).
    obj.setGlobals({ host_netns_ino: statSync('/proc/self/ns/net').ino, include_host: this.options.includeHost });
    obj.setMaxEntries('cnetwork_banned', this.options.maxBannedPairs);
    obj.setMaxEntries('cnetwork_netns_banned', this.options.maxBannedPairs);
    obj.setMaxEntries('cnetwork_tcp_flows', this.options.maxFlows);
    obj.setMaxEntries('cnetwork_udp_flows', this.options.maxFlows);
    obj.setMaxEntries('cnetwork_events', this.options.ringBufferBytes);
  }

  protected override ringBuffers(): RingBufferSpec[] {
    const decoder = {
      ctx: this.decodeContext(),
      peerOf: (a: string) => this.ips.containerOf(a),
      ruleName: (n: number) => this.ruleIdByNumber.get(n) ?? `#${n}`,
    };
    return [
      {
        map: 'cnetwork_events',
        onRecord: (view, offset, length) => {
          if (recordType(view, offset) === RecordType.FLOW_END) {
            if (length < FLOW_END_SIZE) throw new RangeError(`flow end record of ${length} bytes, expected ${FLOW_END_SIZE}`);
            this.flows?.ended(view, offset);
            return;
          }
          const event = decodeRecord(view, offset, length, decoder);
          if (event) this.emit(event);
          else this.unknownRecords++;
        },
      },
    ];
  }

  protected override async onLoaded(obj: BpfObject, ctx: PluginContext): Promise<void> {
    this.udpDestinations = 'socket';
    this.udpSources = 'socket';
    // Opt-in (options.udpAddresses): the syscall tracepoints put every syscall of the machine on
    // the kernel's tracing path.
    if (this.variant?.name === 'tp_btf' && this.options.udpAddresses === 'syscall') {
      const links: Array<{ close(): void }> = [];
      try {
        if (ctx.features.tracepoint?.status !== 'supported') throw new Error(`classic tracepoints are ${ctx.features.tracepoint?.status ?? 'not probed'}`);
        for (const p of SEND_DEST_PROGRAMS) links.push(obj.attach(p));
        this.udpDestinations = 'syscall';
      } catch (err) {
        // All or none: an enter without its exit would leave a destination for a later send.
        for (const l of links) l.close();
        ctx.logger.warn({ plugin: this.name, err: (err as Error).message }, 'UDP flows of unconnected sockets will have no destination (sendto/sendmsg tracepoints unavailable)');
      }
      this.udpSources = this.attachRecvSources(obj, ctx);
    }
    this.banned = obj.map('cnetwork_banned', codec.bytes(cn_pair_key.size), codec.u32);
    this.netnsBanned = obj.map('cnetwork_netns_banned').withCodecs(codec.bytes(cn_netns_key.size), codec.bytes(cn_netns_ban.size));
    const raw = (name: string) => obj.map(name).withCodecs(codec.bytes(cn_flow_key.size), codec.bytes(cn_flow.size));
    this.flows = new FlowReader(raw('cnetwork_tcp_flows'), raw('cnetwork_udp_flows'), this.decodeContext(), (a) => this.ips.containerOf(a), (e) => this.emit(e));
    await this.ips.refreshAll().catch((err: unknown) => {
      // No Docker Engine here (containerd or CRI-O alone, a VM): flows and IP rules still work;
      // peers and container endpoints are named once the runtime answers.
      ctx.logger.warn({ plugin: this.name, err: (err as Error).message }, 'container addresses unknown: the Docker API is unreachable; net.* peers stay unnamed and container rules unresolved');
    });
    // Rules given before start (options or addRule) are installed now that the map exists.
    for (const input of this.options.rules) if (!this.rules.has(input.id ?? '')) await this.addRule(input);
    this.sync();
    this.unsubscribe = ctx.containers.onChange(({ kind, container }) => {
      if (kind === 'stop') {
        this.ips.forget(container.id);
        this.syncSafely();
        return;
      }
      this.ips.refresh(container.id).then(
        () => this.syncSafely(),
        (err) => {
          this.containerRefreshErrors++;
          ctx.logger.warn({ plugin: this.name, container: container.id, err }, 'cannot read container addresses');
        },
      );
    });
    this.flowTimer = setInterval(() => this.drainFlows(), this.options.flowIntervalMs);
    this.flowTimer.unref();
  }

  protected override async onStop(): Promise<void> {
    if (this.flowTimer) clearInterval(this.flowTimer);
    this.flowTimer = null;
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.drainFlows();
    this.flows = null;
    this.banned = null;
    this.netnsBanned = null;
    this.installed = new Map();
    this.installedNetns = new Map();
  }

  // ------------------------------------------------------------------------------------------
  // Public: rules (called by the agent's control API) and flow draining

  /**
   * Add a banned pair: `a` and `b` are IP addresses (strings) or `{container: idOrName}`.
   * Traffic between them in either direction yields net.banned events. Takes effect in the kernel
   * before the returned promise resolves. Throws ERR_CONFIG for a bad rule, a duplicate id or an
   * unknown container. With `allowMissingContainers` (restoring saved rules), a container endpoint
   * that does not run now is accepted: it resolves to no address until a container of that name or
   * id starts.
   */
  async addRule(input: BannedPairInput, options: { allowMissingContainers?: boolean } = {}): Promise<RuleView> {
    const parsed = parseRule(input);
    const id = parsed.id ?? this.freshRuleId();
    if (this.rules.has(id)) throw configError('rule.id', `a rule with id '${id}' exists`);
    for (const [field, e] of [['rule.a', parsed.a], ['rule.b', parsed.b]] as const) {
      if (e.kind !== 'container') continue;
      const known = await this.ips.refresh(e.container).catch((err: unknown) => {
        throw new BoxwatchError('ERR_CONFIG', `${field}.container: cannot ask Docker about '${e.container}': ${(err as Error).message}`, { field, cause: err });
      });
      if (known === null && !options.allowMissingContainers && !(await this.containerExists(e.container))) throw configError(`${field}.container`, `no container '${e.container}'`);
    }
    // A concurrent addRule may have taken the id while we awaited Docker.
    if (this.rules.has(id)) throw configError('rule.id', `a rule with id '${id}' exists`);
    const rule: BannedPairRule = { id, number: this.nextRuleNumber++, a: parsed.a, b: parsed.b, description: parsed.description };
    this.rules.set(id, rule);
    this.ruleIdByNumber.set(rule.number, id);
    try {
      this.sync();
    } catch (err) {
      this.rules.delete(id);
      this.ruleIdByNumber.delete(rule.number);
      this.sync();
      throw err;
    }
    return this.view(rule);
  }

  /** Remove a rule by id; false when there is none. Its pairs leave the kernel map before return. */
  removeRule(id: string): boolean {
    const rule = this.rules.get(id);
    if (!rule) return false;
    this.rules.delete(id);
    this.sync();
    // Keep the number → id mapping: records of the rule may still be in the ring buffer.
    return true;
  }

  listRules(): RuleView[] {
    return [...this.rules.values()].sort((x, y) => x.number - y.number).map((r) => this.view(r));
  }

  /** Read the flow maps now and emit net.flow events (also runs every flowIntervalMs). */
  drainFlows(): void {
    try {
      this.flows?.drain();
    } catch (err) {
      this.ctx?.logger.warn({ plugin: this.name, err }, 'flow drain failed');
    }
  }

  override stats(): PluginStats {
    const base = super.stats();
    const drops: Record<string, number> = {};
    let dropped = 0;
    if (this.obj && !this.obj.closed && this.obj.loaded) {
      const m = this.obj.map('cnetwork_drops', codec.u32, codec.u64n);
      DROP_SLOTS.forEach((name, slot) => {
        const n = (m.lookupPerCpu(slot) ?? []).reduce((a, b) => a + b, 0);
        drops[name] = n;
        dropped += n;
      });
    }
    return {
      ...base,
      lost: base.lost + dropped,
      drops,
      unknownRecords: this.unknownRecords,
      containerRefreshErrors: this.containerRefreshErrors,
      udpDestinations: this.udpDestinations,
      udpSources: this.udpSources,
      rules: this.rules.size,
      bannedPairsInstalled: this.installed.size,
      bannedNetnsInstalled: this.installedNetns.size,
      ...(this.flows?.stats() ?? {}),
    };
  }

  // ------------------------------------------------------------------------------------------

  /**
   * Attach the receive exits and, once all are attached, tell the kernel to leave receives pending
   * for them (a pending receive nobody settles would be counted against a later datagram's source).
   */
  private attachRecvSources(obj: BpfObject, ctx: PluginContext): 'syscall' | 'socket' {
    const links: Array<{ close(): void }> = [];
    try {
      if (ctx.features.tracepoint?.status !== 'supported') throw new Error(`classic tracepoints are ${ctx.features.tracepoint?.status ?? 'not probed'}`);
      for (const p of RECV_SOURCE_PROGRAMS) links.push(obj.attach(p));
      obj.map('cnetwork_settings', codec.u32, codec.u32).update(0, SETTING_RECV_NAMES);
      return 'syscall';
    } catch (err) {
      for (const l of links) l.close();
      ctx.logger.warn({ plugin: this.name, err: (err as Error).message }, 'UDP receives of unconnected sockets will have no source (recvfrom/recvmsg exit tracepoints unavailable)');
      return 'socket';
    }
  }

  private freshRuleId(): string {
    let n = this.rules.size + 1;
    while (this.rules.has(`rule-${n}`)) n++;
    return `rule-${n}`;
  }

  private async containerExists(idOrName: string): Promise<boolean> {
    try {
      await this.ips.docker.getContainer(idOrName).inspect();
      return true;
    } catch {
      return false;
    }
  }

  private addressesOf(e: Endpoint): string[] {
    return e.kind === 'ip' ? [e.ip] : (this.ips.lookup(e.container)?.ips ?? []);
  }

  private view(r: BannedPairRule): RuleView {
    return { id: r.id, a: r.a, b: r.b, description: r.description, addresses: { a: this.addressesOf(r.a), b: this.addressesOf(r.b) } };
  }

  private syncSafely(): void {
    try {
      this.sync();
    } catch (err) {
      this.ctx?.logger.error({ plugin: this.name, err }, 'cannot update the banned-pair map');
    }
  }

  /** Make the kernel maps equal to the expansion of the current rules (diff: updates, then deletes). */
  private sync(): void {
    const map = this.banned;
    const netnsMap = this.netnsBanned;
    if (!map || !netnsMap) return;
    const desired = expandPairs(this.rules.values(), (e) => this.addressesOf(e));
    if (desired.size > this.options.maxBannedPairs) {
      throw configError('rules', `the rules expand to ${desired.size} address pairs, more than maxBannedPairs (${this.options.maxBannedPairs})`);
    }
    const desiredNetns = expandNetnsPairs(desired, (address) => this.ips.netnsOfAddress(address));
    for (const [k, v] of desiredNetns) {
      if (this.installedNetns.get(k) === v) continue;
      const [key, value] = netnsEntry(k, v);
      netnsMap.update(key, value);
      this.installedNetns.set(k, v);
    }
    for (const k of [...this.installedNetns.keys()]) {
      if (desiredNetns.has(k)) continue;
      netnsMap.delete(netnsEntry(k, this.installedNetns.get(k)!)[0]);
      this.installedNetns.delete(k);
    }
    for (const [pair, number] of desired) {
      if (this.installed.get(pair) === number) continue;
      map.update(pairKey(pair), number);
      this.installed.set(pair, number);
    }
    for (const pair of [...this.installed.keys()]) {
      if (desired.has(pair)) continue;
      map.delete(pairKey(pair));
      this.installed.delete(pair);
    }
  }
}

function netnsEntry(k: string, v: string): [Buffer, Buffer] {
  const [netns, remote] = k.split('|') as [string, string];
  const [number, local] = v.split('|') as [string, string];
  const key = Buffer.alloc(cn_netns_key.size);
  key.writeUInt32LE(Number(netns), cn_netns_key.offsets.netns_ino);
  parseAddress(remote)!.copy(key, cn_netns_key.offsets.remote);
  const value = Buffer.alloc(cn_netns_ban.size);
  parseAddress(local)!.copy(value, cn_netns_ban.offsets.local);
  value.writeUInt32LE(Number(number), cn_netns_ban.offsets.rule);
  return [key, value];
}

function pairKey(pair: string): Buffer {
  const [a, b] = pair.split('|') as [string, string];
  const key = Buffer.alloc(cn_pair_key.size);
  parseAddress(a)!.copy(key, cn_pair_key.offsets.saddr);
  parseAddress(b)!.copy(key, cn_pair_key.offsets.daddr);
  return key;
}

export type { ContainerRef };
