import { fileURLToPath } from 'node:url';
import { BpfObject, type GlobalValue } from '@boxwatch/core';
import { test_record as R } from '../generated/test-record.js';

export const TEST_OBJECT = fileURLToPath(new URL('../../bpf/test/test.bpf.o', import.meta.url));
export const BAD_OBJECT = fileURLToPath(new URL('../../bpf/test/bad.bpf.o', import.meta.url));

export const SYS_GETPPID = 110;
export const SYS_GETUID = 102;
export const TAIL_HITS_KEY = 1000;

/** Open the test program with this process as its trigger, load and attach it. */
export function loadTestObject(globals: Record<string, GlobalValue> = {}): BpfObject {
  const obj = BpfObject.open(TEST_OBJECT);
  obj.setGlobals({ target_tgid: process.pid, ...globals });
  obj.load();
  obj.attach('on_sys_enter');
  return obj;
}

/** `process.ppid` issues one getppid(2) per read (libuv does not cache it). */
export function getppidTimes(n: number): void {
  let sink = 0;
  for (let i = 0; i < n; i++) sink += process.ppid;
  if (sink < 0) throw new Error('unreachable');
}

export interface TestRecord {
  seq: bigint;
  magic: bigint;
  cpu: number;
  syscall: number;
  cgroupId: bigint;
  tgid: number;
  flags: number;
}

export function decodeTestRecord(v: DataView, off: number): TestRecord {
  return {
    seq: v.getBigUint64(off + R.offsets.seq, true),
    magic: v.getBigUint64(off + R.offsets.magic, true),
    cpu: v.getUint32(off + R.offsets.cpu, true),
    syscall: v.getUint32(off + R.offsets.syscall, true),
    cgroupId: v.getBigUint64(off + 8, true),
    tgid: v.getUint32(off + 16, true),
    flags: v.getUint8(off + 30),
  };
}
