import { createEvent, decodeHeader, readCString, type DecodeContext, type TypedEvent } from '@boxwatch/core';
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

/** Decode one file_open_record (variable length: the path is path_len bytes). */
export function decodeFileOpen(view: DataView, off: number, len: number, ctx: DecodeContext): FileOpenEvent {
  if (len < R.offsets.path) throw new RangeError(`file.open record of ${len} bytes is shorter than its fixed part (${R.offsets.path})`);
  const pathLen = view.getUint16(off + R.offsets.path_len, true);
  if (R.offsets.path + pathLen > len) throw new RangeError(`file.open record of ${len} bytes cannot hold its ${pathLen}-byte path`);
  const raw = view.getUint32(off + R.offsets.raw_flags, true);
  const truncated = (view.getUint8(off + R.offsets.status) & ST_TRUNCATED) !== 0;
  let path = readCString(view, off + R.offsets.path, pathLen);
  // A walk cut short holds the leaf end of the path: drop the leading '/' so it cannot be
  // mistaken for an absolute path.
  if (truncated && view.getUint8(off + R.offsets.source) === SRC_FILE && path.startsWith('/')) path = path.slice(1);
  return createEvent('file.open', decodeHeader(view, off, ctx), {
    path,
    fs: readCString(view, off + R.offsets.fs, R.sizes.fs),
    flags: decodeOpenFlags(raw),
    raw_flags: raw,
    mode: view.getUint32(off + R.offsets.mode, true),
    ret: Number(view.getBigInt64(off + R.offsets.ret, true)),
    truncated,
  });
}
