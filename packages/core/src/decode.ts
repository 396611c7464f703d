import { bw_event_header as H } from './generated/event-header.js';
import type { ContainerResolver } from './plugin.js';
import type { KernelClock } from './clock.js';
import type { EventHeader } from './event.js';

/** What a decoder needs besides the record bytes. */
export interface DecodeContext {
  host: string;
  clock: KernelClock;
  containers: ContainerResolver;
}

/** Size of struct bw_event_header, the prefix of every record. */
export const EVENT_HEADER_SIZE = H.size;
const HOST_FLAG = 0x1;

/** Plugin-defined record type of the record at `offset` (header.type). */
export function recordType(view: DataView, offset: number): number {
  return view.getUint16(offset + H.offsets.type, true);
}

/**
 * Decode the common header at `offset`. The container is looked up by cgroup id unless the kernel
 * flagged the task as a host task (initial pid namespace).
 */
export function decodeHeader(view: DataView, offset: number, ctx: DecodeContext): EventHeader {
  const ts = view.getBigUint64(offset + H.offsets.ts_ns, true);
  const cgroupId = view.getBigUint64(offset + H.offsets.cgroup_id, true);
  const host = (view.getUint8(offset + H.offsets.flags) & HOST_FLAG) !== 0;
  return {
    time: ctx.clock.toDate(ts),
    ts,
    host: ctx.host,
    container: host ? null : ctx.containers.byCgroupId(cgroupId),
    cgroupId,
    pid: view.getUint32(offset + H.offsets.tgid, true),
    tid: view.getUint32(offset + H.offsets.pid, true),
    comm: readCString(view, offset + H.offsets.comm, H.sizes.comm),
  };
}

/** Process id inside the container's own pid namespace. */
export function headerNsPid(view: DataView, offset: number): number {
  return view.getUint32(offset + H.offsets.ns_tgid, true);
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
  if (!ascii) return utf8.decode(new Uint8Array(view.buffer, view.byteOffset + offset, end - offset));
  let s = '';
  for (let i = offset; i < end; i++) s += String.fromCharCode(view.getUint8(i));
  return s;
}
