/**
 * Ring-buffer record → event. Offsets come from src/generated/layout.ts (the BTF of the built
 * object), never from hand-written numbers.
 */
import { createEvent, decodeHeader, headerNsPid, readCString, recordType, type DecodeContext, type IEvent } from '@boxwatch/core';
import {
  sc_detail_record as D,
  sc_exec_record as X,
  sc_proc_exec_record as PE,
  sc_proc_fork_record as PF,
  sc_proc_exit_record as PX,
  sc_seq_record as SQ,
  sc_kseq_record as KS,
} from './generated/layout.js';
import { DETAIL_SPECS } from './detail-specs.js';
import type { SyscallTable } from './syscall-table.js';

/** bw_event_header.type values (bpf/syscall.h SC_REC_*). */
export const RecordType = { DETAIL: 1, EXEC: 2, PROC_EXEC: 3, PROC_FORK: 4, PROC_EXIT: 5, SEQ: 6, KSEQ: 7 } as const;

/** sc_*_record.flags (bpf/syscall.h SC_F_*). */
const F_STR0_TRUNC = 0x1;
const F_ARGV_MORE = 0x8;
const F_EXE_TRUNC = 0x100;
const F_EXE_NONE = 0x200;
const F_INTERP_TRUNC = 0x400;
const F_BLOCKED = 0x10;

const ARGV_N = 8;
const ARG_LEN = X.sizes.argv / ARGV_N;

function readArgs(view: DataView, base: number): bigint[] {
  const out: bigint[] = [];
  for (let i = 0; i < 6; i++) out.push(view.getBigUint64(base + i * 8, true));
  return out;
}

/** Split a NUL-separated argument area; the trailing NUL does not make an extra empty argument. */
export function splitArgs(bytes: Uint8Array): string[] {
  const out: string[] = [];
  let start = 0;
  const dec = new TextDecoder();
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] === 0) {
      out.push(dec.decode(bytes.subarray(start, i)));
      start = i + 1;
    }
  }
  if (start < bytes.length) out.push(dec.decode(bytes.subarray(start)));
  return out;
}

export class RecordDecoder {
  constructor(
    private readonly table: SyscallTable,
    private readonly ctx: DecodeContext,
    /** Image (profile key) of a kernel sequence profile id. */
    private readonly imageOfProfile: (id: number) => string | undefined = () => undefined,
  ) {}

  /** Decode one record; null for a record this plugin version does not know (counted by the caller). */
  decode(view: DataView, off: number, len: number): IEvent | null {
    const type = recordType(view, off);
    switch (type) {
      case RecordType.DETAIL:
        return len >= D.size ? this.detail(view, off) : null;
      case RecordType.EXEC:
        return len >= X.size ? this.exec(view, off) : null;
      case RecordType.PROC_EXEC:
        return len >= PE.size ? this.procExec(view, off) : null;
      case RecordType.PROC_FORK:
        return len >= PF.size ? this.procFork(view, off) : null;
      case RecordType.PROC_EXIT:
        return len >= PX.size ? this.procExit(view, off) : null;
      case RecordType.SEQ:
        return len >= SQ.size ? this.seq(view, off) : null;
      case RecordType.KSEQ:
        return len >= KS.size ? this.kseq(view, off) : null;
      default:
        return null;
    }
  }

  private detail(view: DataView, off: number): IEvent | null {
    const id = view.getUint32(off + D.offsets.syscall, true);
    const name = this.table.name(id);
    const spec = DETAIL_SPECS[name];
    if (!spec?.fields) return null;
    const captured = {
      args: readArgs(view, off + D.offsets.args),
      str0: readCString(view, off + D.offsets.str0, D.sizes.str0),
      str1: readCString(view, off + D.offsets.str1, D.sizes.str1),
      str2: readCString(view, off + D.offsets.str2, D.sizes.str2),
      raw2: new Uint8Array(view.buffer, view.byteOffset + off + D.offsets.str2, D.sizes.str2).slice(),
      flags: view.getUint32(off + D.offsets.flags, true),
    };
    const ret = Number(view.getBigInt64(off + D.offsets.ret, true));
    const blocked = (captured.flags & F_BLOCKED) !== 0;
    return createEvent(`syscall.${name}`, decodeHeader(view, off, this.ctx), { ...spec.fields(captured), ret, blocked });
  }

  private exec(view: DataView, off: number): IEvent {
    const id = view.getUint32(off + X.offsets.syscall, true);
    const flags = view.getUint32(off + X.offsets.flags, true);
    const argc = Math.min(view.getUint32(off + X.offsets.argc, true), ARGV_N);
    const argv: string[] = [];
    for (let i = 0; i < argc; i++) argv.push(readCString(view, off + X.offsets.argv + i * ARG_LEN, ARG_LEN));
    return createEvent(`syscall.${this.table.name(id)}`, decodeHeader(view, off, this.ctx), {
      filename: readCString(view, off + X.offsets.filename, X.sizes.filename),
      argv,
      argv_truncated: (flags & F_ARGV_MORE) !== 0,
      ret: Number(view.getBigInt64(off + X.offsets.ret, true)),
      blocked: (flags & F_BLOCKED) !== 0,
    });
  }

  private procExec(view: DataView, off: number): IEvent {
    const len = Math.min(view.getUint32(off + PE.offsets.args_len, true), PE.sizes.args);
    const bytes = new Uint8Array(view.buffer, view.byteOffset + off + PE.offsets.args, len);
    const flags = view.getUint32(off + PE.offsets.flags, true);
    const interpreter = readCString(view, off + PE.offsets.interp, PE.sizes.interp);
    return createEvent('process.exec', decodeHeader(view, off, this.ctx), {
      filename: readCString(view, off + PE.offsets.filename, PE.sizes.filename),
      exe: flags & F_EXE_NONE ? null : readCString(view, off + PE.offsets.exe, PE.sizes.exe),
      exe_truncated: (flags & F_EXE_TRUNC) !== 0,
      interpreter: interpreter === '' ? null : interpreter,
      interpreter_truncated: (flags & F_INTERP_TRUNC) !== 0,
      argv: splitArgs(bytes),
      argv_truncated: (flags & F_ARGV_MORE) !== 0,
      filename_truncated: (flags & F_STR0_TRUNC) !== 0,
      ppid: view.getUint32(off + PE.offsets.ppid, true),
      uid: view.getUint32(off + PE.offsets.uid, true),
      ns_pid: headerNsPid(view, off),
      // Controlling terminal (kernel dev_t, 0 = none): an interactive shell has one.
      tty: view.getUint32(off + PE.offsets.tty, true),
    });
  }

  private procFork(view: DataView, off: number): IEvent {
    return createEvent('process.fork', decodeHeader(view, off, this.ctx), {
      child_pid: view.getUint32(off + PF.offsets.child_pid, true),
      ppid: view.getUint32(off + PF.offsets.ppid, true),
    });
  }

  private procExit(view: DataView, off: number): IEvent {
    const code = view.getUint32(off + PX.offsets.exit_code, true);
    return createEvent('process.exit', decodeHeader(view, off, this.ctx), {
      exit_code: (code >> 8) & 0xff,
      signal: code & 0x7f,
      core_dumped: (code & 0x80) !== 0,
    });
  }

  private seq(view: DataView, off: number): IEvent {
    const n = Math.min(view.getUint32(off + SQ.offsets.count, true), SQ.sizes.ids / 2);
    const syscalls: number[] = new Array(n);
    for (let i = 0; i < n; i++) syscalls[i] = view.getUint16(off + SQ.offsets.ids + i * 2, true);
    return createEvent('syscall.seq', decodeHeader(view, off, this.ctx), { syscalls });
  }

  private kseq(view: DataView, off: number): IEvent {
    const n = Math.min(view.getUint32(off + KS.offsets.n, true), KS.sizes.ids / 2);
    const syscalls: number[] = new Array(n);
    for (let i = 0; i < n; i++) syscalls[i] = view.getUint16(off + KS.offsets.ids + i * 2, true);
    const profile = view.getUint32(off + KS.offsets.profile, true);
    return createEvent('syscall.seq_mismatch', decodeHeader(view, off, this.ctx), {
      syscalls,
      // packed10 key: at most 50 bits for n <= 5, exact as a number.
      ngram: Number(view.getBigUint64(off + KS.offsets.ngram, true)),
      gap: Number(view.getBigUint64(off + KS.offsets.gap, true)),
      image: this.imageOfProfile(profile) ?? null,
    });
  }
}
