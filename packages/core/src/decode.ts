import { bw_event_header as H } from './generated/event-header.js';
import type { ContainerResolver } from './plugin.js';
import type { KernelClock } from './clock.js';
import { BaseEvent, type ContainerInfo, type EventHeader, type IEvent } from './event.js';

/** What a decoder needs besides the record bytes. Create it once per plugin, not per record. */
export interface DecodeContext {
  host: string;
  clock: KernelClock;
  containers: ContainerResolver;
}

/** Size of struct bw_event_header, the prefix of every record. */
export const EVENT_HEADER_SIZE = H.size;
const HOST_FLAG = 0x1;
const O = H.offsets;

/**
 * Per-context memo of the last cgroup seen: records arrive in runs from the same container, so the
 * cgroup id BigInt and the resolver lookup are reused while the id repeats. Refreshed every
 * REVALIDATE records so a container that became known (or went away) is picked up.
 */
interface CgroupMemo {
  lo: number;
  hi: number;
  id: bigint;
  container: ContainerInfo | null;
  uses: number;
}
const REVALIDATE = 1024;
const memos = new WeakMap<DecodeContext, CgroupMemo>();
// The memo of the context decoded last: a plugin decodes a whole batch with one context, and the
// WeakMap lookup per record cost as much as the memo saves.
let lastCtx: DecodeContext | null = null;
let lastMemo: CgroupMemo | undefined;

function containerOf(view: DataView, offset: number, ctx: DecodeContext): CgroupMemo {
  const lo = view.getUint32(offset + O.cgroup_id, true);
  const hi = view.getUint32(offset + O.cgroup_id + 4, true);
  // Kept this small so V8 inlines it into the decoder; the rest is memoFor.
  const m = lastMemo;
  if (ctx === lastCtx && m !== undefined && m.lo === lo && m.hi === hi && ++m.uses < REVALIDATE) return m;
  return memoFor(ctx, lo, hi);
}

function memoFor(ctx: DecodeContext, lo: number, hi: number): CgroupMemo {
  let m = memos.get(ctx);
  if (!(m && m.lo === lo && m.hi === hi && ++m.uses < REVALIDATE)) {
    const id = (BigInt(hi) << 32n) | BigInt(lo);
    m = { lo, hi, id, container: ctx.containers.byCgroupId(id), uses: 0 };
    memos.set(ctx, m);
  }
  lastCtx = ctx;
  lastMemo = m;
  return m;
}

/** Plugin-defined record type of the record at `offset` (header.type). */
export function recordType(view: DataView, offset: number): number {
  return view.getUint16(offset + O.type, true);
}

/**
 * The container of a task in its own pid namespace whose cgroup no resolver could map to a container
 * id: still a container event (never reported as the host's), marked so, and counted by the Collector.
 */
export const UNRESOLVED_CONTAINER: ContainerInfo = Object.freeze({ id: null, unresolved: true });

/**
 * Decode the common header at `offset`. The container is the one the record's cgroup id resolves
 * to; when none does, a task the kernel flagged as a host task (initial pid namespace) is the
 * host's (`container: null`) and any other task's container is UNRESOLVED_CONTAINER.
 */
export function decodeHeader(view: DataView, offset: number, ctx: DecodeContext): EventHeader {
  return readHeader({ time: EPOCH, ts: 0n, host: '', container: null, cgroupId: 0n, pid: 0, tid: 0, comm: '' }, view, offset, ctx);
}

const EPOCH = new Date(0);

/** Set the header fields of the record at `offset` on `out`, in the order of EventHeader. */
function readHeader<T extends EventHeader>(out: T, view: DataView, offset: number, ctx: DecodeContext): T {
  const cg = containerOf(view, offset, ctx);
  out.time = ctx.clock.dateFromParts(view.getUint32(offset + O.ts_ns, true), view.getUint32(offset + O.ts_ns + 4, true));
  out.ts = view.getBigUint64(offset + O.ts_ns, true);
  out.host = ctx.host;
  const c = cg.container;
  out.container = c !== null ? c : (view.getUint8(offset + O.flags) & HOST_FLAG) !== 0 ? null : UNRESOLVED_CONTAINER;
  out.cgroupId = cg.id;
  out.pid = view.getUint32(offset + O.tgid, true);
  out.tid = view.getUint32(offset + O.pid, true);
  out.comm = readComm(view, offset + O.comm);
  return out;
}

/** An event while its decoder sets its fields: E with every property writable. */
export type EventDraft<E extends IEvent> = { -readonly [K in keyof E]: E[K] };

/**
 * The fast way to decode a record into an event: a BaseEvent of `type` with the header fields read
 * from the record's bw_event_header. The decoder then sets every field of its type, in the same
 * order each time, and returns it:
 *
 *   const e = recordEvent<ExecEvent>('process.exec', view, offset, ctx);
 *   e.filename = readCString(view, offset + R.offsets.filename, R.sizes.filename);
 *   return e;
 *
 * The event is the one createEvent(type, decodeHeader(view, offset, ctx), fields) builds (same
 * properties in the same order, same JSON) at about half the cost per event: no header or fields
 * object, no Object.assign, no subclass constructor (V8 does not inline a derived class's super()
 * call here, which cost ~15 ns per event).
 */
export function recordEvent<E extends IEvent>(type: E['type'], view: DataView, offset: number, ctx: DecodeContext): EventDraft<E> {
  return readHeader(new BaseEvent(type, null) as unknown as EventHeader, view, offset, ctx) as unknown as EventDraft<E>;
}

/** Process id inside the container's own pid namespace. */
export function headerNsPid(view: DataView, offset: number): number {
  return view.getUint32(offset + O.ns_tgid, true);
}

/**
 * Task comm (16 bytes) through a small direct-mapped cache keyed by its four 32-bit words: a
 * machine runs few distinct commands, and building the string costs more than the lookup.
 */
const COMM_SLOTS = 256; // a power of two: the slot is taken with a mask
const COMM_MASK = COMM_SLOTS - 1;
const commWords = new Uint32Array(COMM_SLOTS * 4);
const commStrings: Array<string | undefined> = new Array(COMM_SLOTS);

function readComm(view: DataView, offset: number): string {
  const a = view.getUint32(offset, true);
  const b = view.getUint32(offset + 4, true);
  const c = view.getUint32(offset + 8, true);
  const d = view.getUint32(offset + 12, true);
  // A mask, not `% COMM_SLOTS`: bundlers turn module constants into `var`s, and V8 then divides
  // for real (a division per record cost ~10 ns).
  const slot = (a ^ (b * 31) ^ (c * 17) ^ d) & COMM_MASK;
  const w = slot * 4;
  const cached = commStrings[slot];
  if (cached !== undefined && commWords[w] === a && commWords[w + 1] === b && commWords[w + 2] === c && commWords[w + 3] === d) return cached;
  const s = readCString(view, offset, H.sizes.comm);
  commWords[w] = a;
  commWords[w + 1] = b;
  commWords[w + 2] = c;
  commWords[w + 3] = d;
  commStrings[slot] = s;
  return s;
}

const utf8 = new TextDecoder('utf-8');

/**
 * A NUL-terminated string of at most `max` bytes. ASCII (the common case for comm and paths) is
 * built directly; anything else goes through TextDecoder.
 */
export function readCString(view: DataView, offset: number, max: number): string {
  let end = offset;
  const limit = offset + max;
  let ascii = true;
  while (end < limit) {
    const b = view.getUint8(end);
    if (b === 0) break;
    if (b >= 0x80) ascii = false;
    end++;
  }
  if (end === offset) return '';
  if (!ascii || end - offset > 64) return utf8.decode(new Uint8Array(view.buffer, view.byteOffset + offset, end - offset));
  let s = '';
  for (let i = offset; i < end; i++) s += String.fromCharCode(view.getUint8(i));
  return s;
}
