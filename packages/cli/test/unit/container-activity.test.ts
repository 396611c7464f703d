import { describe, expect, it } from 'vitest';
import { createEvent, type IEvent } from '@boxwatch/core';
import { ContainerActivity } from '../../src/runtime/container-activity.js';

const ev = (type: string, id: string | null, fields: object = {}): IEvent =>
  createEvent(type, { time: new Date('2026-01-01T00:00:05Z'), ts: 0n, host: 'h', container: id ? { id, name: id } : null, cgroupId: 0n, pid: 1, tid: 1, comm: 'x' }, fields);

describe('ContainerActivity', () => {
  it('gives events per second by family per container and the last resource sample, then resets the rates', () => {
    const a = new ContainerActivity();
    const t0 = Date.now();
    for (let i = 0; i < 4; i++) a.add(ev('syscall.execve', 'c1'));
    a.add(ev('file.open', 'c1'));
    a.add(ev('net.flow', 'c2'));
    a.add(ev('file.open', null)); // host events are nobody's
    a.add(ev('resource.usage', 'c1', { cpu_percent: 12.5, memory_bytes: 1000, memory_limit_bytes: 4000 }));
    const got = a.take(['c1', 'c2', 'c3'], t0 + 2000);
    expect(got.c1!.rates).toEqual({ syscall: 2, file: 0.5 });
    expect(got.c1!.usage).toEqual({ cpu_percent: 12.5, memory_bytes: 1000, memory_limit_bytes: 4000, at: '2026-01-01T00:00:05.000Z' });
    expect(got.c2).toEqual({ rates: { net: 0.5 }, usage: null });
    expect(got.c3).toEqual({ rates: {}, usage: null });
    expect(a.take(['c1'], t0 + 3000).c1!.rates).toEqual({});
    a.forget('c1');
    expect(a.take(['c1'], t0 + 4000).c1!.usage).toBeNull();
  });
});
