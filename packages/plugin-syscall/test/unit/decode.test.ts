import { describe, expect, it } from 'vitest';
import { EVENT_HEADER_LAYOUT as H, KernelClock, type ContainerResolver, type DecodeContext } from '@boxwatch/core';
import { RecordDecoder, RecordType } from '../../src/decode.js';
import { sc_detail_record as D, sc_exec_record as X, sc_proc_exec_record as PE, sc_seq_record as SQ } from '../../src/generated/layout.js';
import { SyscallTable } from '../../src/syscall-table.js';

const table = new SyscallTable('x86_64');
const noContainers: ContainerResolver = {
  byCgroupId: () => null,
  find: () => null,
  list: () => [],
  cgroupIdOf: () => null,
  details: () => null,
  byIp: () => null,
  onChange: () => () => undefined,
};
const ctx: DecodeContext = { host: 'h', clock: new KernelClock(), containers: noContainers };
const decoder = new RecordDecoder(table, ctx);

/** A record buffer with the common header filled (record offsets come from the generated layout). */
function record(size: number, type: number): { buf: Buffer; view: DataView } {
  const buf = Buffer.alloc(size + 8);
  const view = new DataView(buf.buffer, buf.byteOffset + 8, size);
  view.setUint16(H.offsets.type, type, true);
  view.setUint32(H.offsets.tgid, 42, true);
  view.setUint32(H.offsets.pid, 43, true);
  buf.write('sh\0', 8 + H.offsets.comm);
  return { buf, view };
}

describe('record decoding', () => {
  it('decodes a blocked mount with its strings, flags and errno', () => {
    const { buf, view } = record(D.size, RecordType.DETAIL);
    view.setUint32(D.offsets.syscall, table.id('mount')!, true);
    view.setBigInt64(D.offsets.ret, -1n, true);
    view.setBigUint64(D.offsets.args + 3 * 8, 0x8000n, true);
    view.setUint32(D.offsets.flags, 0x10, true);
    buf.write('none\0', 8 + D.offsets.str0);
    buf.write('/mnt\0', 8 + D.offsets.str1);
    buf.write('tmpfs\0', 8 + D.offsets.str2);
    const e = decoder.decode(view, 0, D.size);
    expect(e).toMatchObject({ type: 'syscall.mount', source: 'none', target: '/mnt', fstype: 'tmpfs', flags: 0x8000, ret: -1, blocked: true, pid: 42, tid: 43, comm: 'sh', container: { id: null, unresolved: true } });
  });

  it('decodes signed arguments (setresuid -1 = unchanged, kill of a process group)', () => {
    const { view } = record(D.size, RecordType.DETAIL);
    view.setUint32(D.offsets.syscall, table.id('setresuid')!, true);
    view.setBigUint64(D.offsets.args, 0xffffffffn, true);
    view.setBigUint64(D.offsets.args + 8, 1000n, true);
    view.setBigUint64(D.offsets.args + 16, 0xffffffffffffffffn, true);
    expect(decoder.decode(view, 0, D.size)).toMatchObject({ type: 'syscall.setresuid', uid: -1, euid: 1000, suid: -1, ret: 0, blocked: false });
  });

  it('decodes execve argv up to argc and the truncation flag', () => {
    const { buf, view } = record(X.size, RecordType.EXEC);
    view.setUint32(X.offsets.syscall, table.id('execve')!, true);
    view.setUint32(X.offsets.argc, 2, true);
    view.setUint32(X.offsets.flags, 0x8, true);
    buf.write('/bin/ls\0', 8 + X.offsets.filename);
    const argLen = X.sizes.argv / 8;
    buf.write('ls\0', 8 + X.offsets.argv);
    buf.write('/tmp\0', 8 + X.offsets.argv + argLen);
    buf.write('stale\0', 8 + X.offsets.argv + 2 * argLen); // beyond argc: must be ignored
    expect(decoder.decode(view, 0, X.size)).toMatchObject({ type: 'syscall.execve', filename: '/bin/ls', argv: ['ls', '/tmp'], argv_truncated: true });
  });

  it('decodes process.exec argv from the argument area', () => {
    const { buf, view } = record(PE.size, RecordType.PROC_EXEC);
    const args = 'ls\0-l\0/tmp\0';
    buf.write(args, 8 + PE.offsets.args);
    view.setUint32(PE.offsets.args_len, args.length, true);
    view.setUint32(PE.offsets.ppid, 7, true);
    buf.write('/bin/ls\0', 8 + PE.offsets.filename);
    expect(decoder.decode(view, 0, PE.size)).toMatchObject({ type: 'process.exec', filename: '/bin/ls', argv: ['ls', '-l', '/tmp'], ppid: 7, uid: 0 });
  });

  it('decodes a sequence record up to its count', () => {
    const { view } = record(SQ.size, RecordType.SEQ);
    view.setUint32(SQ.offsets.count, 3, true);
    [0, 1, 231, 99].forEach((id, i) => view.setUint16(SQ.offsets.ids + 2 * i, id, true));
    expect(decoder.decode(view, 0, SQ.size)).toMatchObject({ type: 'syscall.seq', syscalls: [0, 1, 231] });
  });

  it('returns null for unknown record types and short records', () => {
    expect(decoder.decode(record(D.size, 99).view, 0, D.size)).toBeNull();
    expect(decoder.decode(record(D.size, RecordType.DETAIL).view, 0, D.size - 1)).toBeNull();
  });
});
