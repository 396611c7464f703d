import { describe, expect, it } from 'vitest';
import { BpfObject, codec } from '@boxwatch/core';
import { fileURLToPath } from 'node:url';

const obj = fileURLToPath(new URL('../../bpf/test/test.bpf.o', import.meta.url));

describe('smoke', () => {
  it('loads', () => {
    const o = BpfObject.open(obj);
    console.log(o.programs(), o.maps(), o.globals());
    o.setGlobals({ target_tgid: process.pid, magic: 0x1234n });
    o.load();
    o.setTailCall('jmp', 0, 'tail_target');
    o.attach('on_sys_enter');
    const recs: bigint[] = [];
    const rb = o.ringBuffer('events', (v, off, len) => { recs.push(v.getBigUint64(off + 48, true)); });
    for (let i = 0; i < 100; i++) process.ppid;
    for (let i = 0; i < 10; i++) process.pid;
    rb.drain();
    const kv = o.map('kv', codec.u32, codec.u64);
    console.log(recs.length, [...kv.entries()], rb.stats());
    o.close();
    o.close();
  });
});
