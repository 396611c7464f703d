/**
 * The events this plugin emits (docs/events/net.md) and the decoding of its ring-buffer records.
 * Offsets come from the generated layout (the BTF of the built object), never by hand.
 */
import { createEvent, decodeHeader, recordType, type DecodeContext, type IEvent, type TypedEvent } from '@boxwatch/core';
import { formatAddress } from './address.js';
import type { ContainerRef } from './container-ips.js';
import { cn_banned_record as B, cn_conn_record as C } from './generated/layout.js';

/** Record types (bw_event_header.type), as in bpf/cnetwork.h. */
export const RecordType = { CONNECT: 1, ACCEPT: 2, LISTEN: 3, BANNED: 4, FLOW_END: 5 } as const;

export type Proto = 'tcp' | 'udp';

export type NetConnectEvent = TypedEvent<
  'net.connect' | 'net.accept',
  { proto: Proto; saddr: string; sport: number; daddr: string; dport: number; peer_container: ContainerRef | null }
>;
export type NetListenEvent = TypedEvent<'net.listen', { proto: Proto; addr: string; port: number }>;
export type NetBannedEvent = TypedEvent<
  'net.banned',
  { proto: Proto; direction: 'send' | 'recv'; saddr: string; sport: number; daddr: string; dport: number; bytes: number; rule: string }
>;
export type NetFlowEvent = TypedEvent<
  'net.flow',
  {
    proto: Proto;
    saddr: string;
    sport: number;
    daddr: string;
    dport: number;
    /** TCP state at the end of the interval (kernel name without TCP_, e.g. ESTABLISHED, CLOSE); null for UDP. */
    state: string | null;
    /** TCP states the socket entered during the interval (set, in kernel enum order). */
    states_seen: string[];
    bytes_sent: number;
    bytes_recv: number;
    /** TCP: the socket is gone, this is its last report (its counters are final). Always false for UDP. */
    ended: boolean;
    peer_container: ContainerRef | null;
    interval_ms: number;
  }
>;

export const EVENT_TYPES = ['net.connect', 'net.accept', 'net.listen', 'net.flow', 'net.banned'] as const;

/** enum tcp_state numbering (include/net/tcp_states.h). */
const TCP_STATES = ['', 'ESTABLISHED', 'SYN_SENT', 'SYN_RECV', 'FIN_WAIT1', 'FIN_WAIT2', 'TIME_WAIT', 'CLOSE', 'CLOSE_WAIT', 'LAST_ACK', 'LISTEN', 'CLOSING', 'NEW_SYN_RECV'];

export function tcpStateName(n: number): string {
  return TCP_STATES[n] || `STATE_${n}`;
}

export function tcpStatesOf(mask: number): string[] {
  const out: string[] = [];
  for (let i = 1; i < 16; i++) if (mask & (1 << i)) out.push(tcpStateName(i));
  return out;
}

export interface RecordDecoder {
  ctx: DecodeContext;
  peerOf(address: string): ContainerRef | null;
  ruleName(number: number): string;
}

const bytesOf = (view: DataView, offset: number) => new Uint8Array(view.buffer, view.byteOffset + offset, 16);

/** Decode one ring-buffer record into its event (null for an unknown record type, counted by the caller). */
export function decodeRecord(view: DataView, offset: number, length: number, d: RecordDecoder): IEvent | null {
  const type = recordType(view, offset);
  const header = decodeHeader(view, offset, d.ctx);
  const u16 = (o: number) => view.getUint16(offset + o, true);
  if (type === RecordType.BANNED) {
    if (length < B.size) throw new RangeError(`net.banned record of ${length} bytes, expected ${B.size}`);
    return createEvent('net.banned', header, {
      proto: view.getUint8(offset + B.offsets.proto) === 17 ? ('udp' as const) : ('tcp' as const),
      direction: view.getUint8(offset + B.offsets.direction) === 0 ? ('send' as const) : ('recv' as const),
      saddr: formatAddress(bytesOf(view, offset + B.offsets.saddr)),
      sport: u16(B.offsets.sport),
      daddr: formatAddress(bytesOf(view, offset + B.offsets.daddr)),
      dport: u16(B.offsets.dport),
      bytes: Number(view.getBigUint64(offset + B.offsets.bytes, true)),
      rule: d.ruleName(view.getUint32(offset + B.offsets.rule, true)),
    });
  }
  if (type === RecordType.CONNECT || type === RecordType.ACCEPT || type === RecordType.LISTEN) {
    if (length < C.size) throw new RangeError(`connection record of ${length} bytes, expected ${C.size}`);
    const proto: Proto = view.getUint8(offset + C.offsets.proto) === 17 ? 'udp' : 'tcp';
    const saddr = formatAddress(bytesOf(view, offset + C.offsets.saddr));
    if (type === RecordType.LISTEN) return createEvent('net.listen', header, { proto, addr: saddr, port: u16(C.offsets.sport) });
    const daddr = formatAddress(bytesOf(view, offset + C.offsets.daddr));
    return createEvent(type === RecordType.CONNECT ? 'net.connect' : 'net.accept', header, {
      proto,
      saddr,
      sport: u16(C.offsets.sport),
      daddr,
      dport: u16(C.offsets.dport),
      peer_container: d.peerOf(daddr),
    });
  }
  return null;
}
