import { readCString, recordEvent, type DecodeContext, type TypedEvent } from '@boxwatch/core';
import { file_open_record as R } from './generated/layout.js';
import { decodeOpenFlags, type OpenFlags } from './flags.js';

/** Record type of struct file_open_record (FO_RECORD_OPEN). */
export const RECORD_OPEN = 1;
const ST_TRUNCATED = 0x1;
const SRC_FILE = 1;

export interface FileOpenFields {
  /** Absolute path as the container sees it (resolved from the opened file), or the argument as passed for failed opens. */
  path: string;
  /** Filesystem type (`overlay`, `proc`, `tmpfs`, `ext4`, ...); empty when the open failed. */
  fs: string;
  flags: OpenFlags;
  raw_flags: number;
  /** Create mode (permission bits) as passed; 0 unless O_CREAT or O_TMPFILE. */
  mode: number;
  /** The new fd, or a negative errno. The kretprobe variant reports 0 on success (no fd yet at that hook). */
  ret: number;
  /**
   * The path is incomplete: deeper than maxDepth components or longer than 4094 bytes (then `path` is
   * the leaf end, without a leading `/`), or a failed open's argument longer than 255 bytes (its start).
   */
  truncated: boolean;
}

export type FileOpenEvent = TypedEvent<'file.open', FileOpenFields>;

const utf8 = new TextDecoder('utf-8');
/** Byte view of the ring-buffer batch (one ArrayBuffer reused across batches). */
let bytes: Uint8Array = new Uint8Array(0);
let latin1: Buffer = Buffer.alloc(0);
function byteView(view: DataView): void {
  if (bytes.buffer !== view.buffer) {
    bytes = new Uint8Array(view.buffer);
    latin1 = Buffer.from(view.buffer);
  }
}

/**
 * The path bytes at [start, start + len) up to a NUL, as readCString decodes them (UTF-8,
 * replacement characters for invalid sequences); ASCII, nearly every path, is sliced as latin1
 * without the TextDecoder call.
 */
function pathString(start: number, len: number): string {
  let end = start;
  const limit = start + len;
  let ascii = true;
  while (end < limit) {
    const b = bytes[end]!;
    if (b === 0) break;
    if (b >= 0x80) ascii = false;
    end++;
  }
  if (end === start) return '';
  return ascii ? latin1.toString('latin1', start, end) : utf8.decode(bytes.subarray(start, end));
}

/**
 * Filesystem names: a handful of values, so decoded once per distinct 16-byte field (bytes after
 * the NUL included: the key is the field exactly, so a hit is what readCString would return).
 */
interface FsEntry {
  w1: number;
  w2: number;
  w3: number;
  name: string;
}
const FS_CACHE_MAX = 256;
const fsCache = new Map<number, FsEntry[]>();
let fsCached = 0;
function fsString(view: DataView, off: number): string {
  const w0 = view.getUint32(off, true);
  const w1 = view.getUint32(off + 4, true);
  const w2 = view.getUint32(off + 8, true);
  const w3 = view.getUint32(off + 12, true);
  const list = fsCache.get(w0);
  if (list) for (const e of list) if (e.w1 === w1 && e.w2 === w2 && e.w3 === w3) return e.name;
  const name = readCString(view, off, R.sizes.fs);
  if (fsCached < FS_CACHE_MAX) {
    fsCached++;
    if (list) list.push({ w1, w2, w3, name });
    else fsCache.set(w0, [{ w1, w2, w3, name }]);
  }
  return name;
}

/** Decode one file_open_record (variable length: the path is path_len bytes). */
export function decodeFileOpen(view: DataView, off: number, len: number, ctx: DecodeContext): FileOpenEvent {
  if (len < R.offsets.path) throw new RangeError(`file.open record of ${len} bytes is shorter than its fixed part (${R.offsets.path})`);
  const pathLen = view.getUint16(off + R.offsets.path_len, true);
  if (R.offsets.path + pathLen > len) throw new RangeError(`file.open record of ${len} bytes cannot hold its ${pathLen}-byte path`);
  const raw = view.getUint32(off + R.offsets.raw_flags, true);
  const truncated = (view.getUint8(off + R.offsets.status) & ST_TRUNCATED) !== 0;
  byteView(view);
  let path = pathString(view.byteOffset + off + R.offsets.path, pathLen);
  // A walk cut short holds the leaf end of the path: drop the leading '/' so it cannot be
  // mistaken for an absolute path.
  if (truncated && view.getUint8(off + R.offsets.source) === SRC_FILE && path.startsWith('/')) path = path.slice(1);
  // The field order is FileOpenFields' (the JSON order).
  const e = recordEvent<FileOpenEvent>('file.open', view, off, ctx);
  e.path = path;
  e.fs = fsString(view, off + R.offsets.fs);
  e.flags = decodeOpenFlags(raw);
  e.raw_flags = raw;
  e.mode = view.getUint32(off + R.offsets.mode, true);
  // fd or -errno: the two 32-bit halves give the same number without a BigInt.
  e.ret = view.getInt32(off + R.offsets.ret + 4, true) * 0x1_0000_0000 + view.getUint32(off + R.offsets.ret, true);
  e.truncated = truncated;
  return e;
}
