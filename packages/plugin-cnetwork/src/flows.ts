/**
 * Turns the kernel's flow maps into net.flow events every interval.
 *
 * TCP (cnetwork_tcp_flows): one entry per socket for the socket's whole life. Counters only grow
 * in the kernel and userspace never deletes a live entry, so a send racing with the reader is
 * simply seen next time; events carry the deltas since the last report. When the socket is
 * destroyed (its process closed it and TCP is done with it: no byte can follow) the kernel takes
 * its entry out and sends the final counters as a record (ended()), reported at once; an entry it
 * could not send that way (ring full) stays, marked ended, and the drain reports and deletes it. UDP (cnetwork_udp_flows): one entry per (socket, destination), taken out atomically
 * with a lookup-and-delete batch every interval (sockets have no close to wait for).
 */
import { createEvent, decodeHeader, type BpfMap, type DecodeContext } from '@boxwatch/core';
import { formatAddress } from './address.js';
import type { ContainerRef } from './container-ips.js';
import { tcpStateName, tcpStatesOf, type NetFlowEvent } from './events.js';
import { cn_flow as F, cn_flow_end_record as E, cn_flow_key as K } from './generated/layout.js';

interface Seen {
  sent: bigint;
  recv: bigint;
  statesSeen: number;
  state: number;
}

export interface FlowReaderStats {
  flowEvents: number;
  tcpFlowsTracked: number;
}

export class FlowReader {
  private readonly seen = new Map<string, Seen>();
  private lastDrain: bigint;
  private flowEvents = 0;

  constructor(
    private readonly tcp: BpfMap<Buffer, Buffer>,
    private readonly udp: BpfMap<Buffer, Buffer>,
    private readonly ctx: DecodeContext,
    private readonly peerOf: (address: string) => ContainerRef | null,
    private readonly emit: (e: NetFlowEvent) => void,
  ) {
    this.lastDrain = ctx.clock.now();
  }

  /** Read both maps and emit a net.flow per flow with activity or a state change since the last call. */
  drain(): void {
    const now = this.ctx.clock.now();
    const intervalMs = Number((now - this.lastDrain) / 1_000_000n);
    this.lastDrain = now;

    const live = new Set<string>();
    for (const key of [...this.tcp.keys()]) {
      const value = this.tcp.lookup(key);
      if (!value) continue;
      const id = key.toString('hex');
      live.add(id);
      const v = new DataView(value.buffer, value.byteOffset, value.byteLength);
      const sent = v.getBigUint64(F.offsets.bytes_sent, true);
      const recv = v.getBigUint64(F.offsets.bytes_recv, true);
      const state = v.getUint8(F.offsets.state);
      const statesSeen = v.getUint16(F.offsets.states_seen, true);
      const prev = this.seen.get(id);
      const ended = v.getUint8(F.offsets.ended) !== 0;
      const dSent = sent - (prev?.sent ?? 0n);
      const dRecv = recv - (prev?.recv ?? 0n);
      const newStates = statesSeen & ~(prev?.statesSeen ?? 0);
      const changed = !prev || prev.state !== state || newStates !== 0;
      if (ended) {
        // the socket is gone and the kernel will not touch the entry again
        this.emitFlow(v, now, 'tcp', tcpStateName(state), tcpStatesOf(newStates), dSent, dRecv, intervalMs, true);
        this.tcp.delete(key);
        this.seen.delete(id);
        continue;
      }
      if (dSent > 0n || dRecv > 0n || changed) {
        this.emitFlow(v, now, 'tcp', tcpStateName(state), tcpStatesOf(newStates), dSent, dRecv, intervalMs, false);
      }
      this.seen.set(id, { sent, recv, statesSeen, state });
    }
    for (const id of this.seen.keys()) if (!live.has(id)) this.seen.delete(id);

    for (const [, values] of this.udp.drainBatch()) {
      const value = values[0];
      if (!value) continue;
      const v = new DataView(value.buffer, value.byteOffset, value.byteLength);
      this.emitFlow(v, now, 'udp', null, [], v.getBigUint64(F.offsets.bytes_sent, true), v.getBigUint64(F.offsets.bytes_recv, true), intervalMs, false);
    }
  }

  /**
   * The final counters of a TCP flow the kernel took out of the map when its socket was destroyed
   * (a record in the ring buffer at `offset`): one net.flow with what is new since the last drain,
   * at that time.
   */
  ended(view: DataView, offset: number): void {
    const id = Buffer.from(view.buffer, view.byteOffset + offset + E.offsets.key, K.size).toString('hex');
    const v = new DataView(view.buffer, view.byteOffset + offset + E.offsets.flow, F.size);
    const sent = v.getBigUint64(F.offsets.bytes_sent, true);
    const recv = v.getBigUint64(F.offsets.bytes_recv, true);
    const prev = this.seen.get(id);
    this.seen.delete(id);
    const ts = view.getBigUint64(offset + E.offsets.hdr, true); // the header's ts_ns: the destruction
    const intervalMs = Math.max(0, Number((ts - this.lastDrain) / 1_000_000n));
    const newStates = v.getUint16(F.offsets.states_seen, true) & ~(prev?.statesSeen ?? 0);
    this.emitFlow(v, ts, 'tcp', tcpStateName(v.getUint8(F.offsets.state)), tcpStatesOf(newStates), sent - (prev?.sent ?? 0n), recv - (prev?.recv ?? 0n), intervalMs, true);
  }

  private emitFlow(v: DataView, now: bigint, proto: 'tcp' | 'udp', state: string | null, states: string[], sent: bigint, recv: bigint, intervalMs: number, ended: boolean): void {
    // The owner header says whose socket it is; the event's time is the end of the interval.
    const header = { ...decodeHeader(v, F.offsets.owner, this.ctx), ts: now, time: this.ctx.clock.toDate(now) };
    const daddr = formatAddress(new Uint8Array(v.buffer, v.byteOffset + F.offsets.daddr, 16));
    this.flowEvents++;
    this.emit(
      createEvent('net.flow', header, {
        proto,
        saddr: formatAddress(new Uint8Array(v.buffer, v.byteOffset + F.offsets.saddr, 16)),
        sport: v.getUint16(F.offsets.sport, true),
        daddr,
        dport: v.getUint16(F.offsets.dport, true),
        state,
        states_seen: states,
        bytes_sent: Number(sent),
        bytes_recv: Number(recv),
        ended,
        peer_container: this.peerOf(daddr),
        interval_ms: intervalMs,
      }),
    );
  }

  stats(): FlowReaderStats {
    return { flowEvents: this.flowEvents, tcpFlowsTracked: this.seen.size };
  }
}
