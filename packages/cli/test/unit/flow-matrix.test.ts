import { describe, expect, it } from 'vitest';
import { createEvent, type IEvent } from '@boxwatch/core';
import { FlowMatrix } from '../../src/runtime/flow-matrix.js';

function flow(from: string | null, saddr: string, daddr: string, sent: number, recv: number, peer: string | null): IEvent {
  return createEvent(
    'net.flow',
    { time: new Date('2026-01-01T00:00:00Z'), ts: 0n, host: 'h', container: from ? { id: from.padEnd(64, '0'), name: from } : null, cgroupId: 0n, pid: 1, tid: 1, comm: 'nc' },
    { proto: 'tcp', saddr, sport: 1, daddr, dport: 2, state: 'ESTABLISHED', states_seen: [], bytes_sent: sent, bytes_recv: recv, peer_container: peer ? { id: peer.padEnd(64, '0'), name: peer } : null, interval_ms: 5000 },
  );
}

describe('FlowMatrix', () => {
  it('counts container-to-container bytes once, from each sender, and outside peers by their address', () => {
    const m = new FlowMatrix();
    // Both sockets of one connection report: each side's sent bytes, each side's received bytes.
    m.add(flow('web', '172.17.0.2', '172.17.0.3', 100, 7, 'db'));
    m.add(flow('db', '172.17.0.3', '172.17.0.2', 7, 100, 'web'));
    m.add(flow('web', '172.17.0.2', '10.9.9.9', 5, 40, null));
    m.add(flow('web', '172.17.0.2', '172.17.0.3', 50, 0, 'db'));
    const got = Object.fromEntries(m.top().map((p) => [`${p.src}>${p.dst}`, p.bytes]));
    expect(got).toEqual({ 'web>db': 150, 'db>web': 7, 'web>10.9.9.9': 5, '10.9.9.9>web': 40 });
    expect(m.top(1)).toEqual([expect.objectContaining({ src: 'web', dst: 'db', bytes: 150 })]);
  });

  it('ignores other events and counts the pairs it cannot keep', () => {
    const m = new FlowMatrix(1);
    m.add(createEvent('net.connect', { time: new Date(), ts: 0n, host: 'h', container: null, cgroupId: 0n, pid: 1, tid: 1, comm: 'x' }, {}));
    m.add(flow('a', '1.1.1.1', '2.2.2.2', 1, 0, 'b'));
    m.add(flow('a', '1.1.1.1', '3.3.3.3', 1, 0, 'c'));
    expect(m.top().map((p) => p.dst)).toEqual(['b']);
    expect(m.dropped).toBe(1);
  });
});
