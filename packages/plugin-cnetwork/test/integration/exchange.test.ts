/**
 * Exact TCP flow accounting against the real kernel: 1,000 connections between two containers,
 * each moving its own number of bytes in each direction, in every ordering of accept, first data
 * and close (test/fixtures/tcpx.c: server writes first; client half-closes; client closes without
 * reading; client aborts with RST so the server reads after its socket is already CLOSE). Both
 * programs print what write() and read() returned per connection; every socket must end in exactly one
 * net.flow per side (`ended`), with those byte counts and its real ports.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerContainerRegistry, type IEvent } from '@boxwatch/core';
import { dockerExec, removeTestContainers, type TestContainer } from '@boxwatch/core/testing';
import { CNetworkPlugin, type NetFlowEvent } from '@boxwatch/plugin-cnetwork';
import { ensureImage, fixturePair, makeContext, until } from '../harness.js';

const SOURCE = fileURLToPath(new URL('../fixtures/tcpx.c', import.meta.url));
const PORT = 5003;
const N = 1000;
const containers: TestContainer[] = [];
let resolver: DockerContainerRegistry;
let server: TestContainer;
let client: TestContainer;

/** Per connection, keyed by the client's port: what one side's program wrote and read. */
type Counts = Map<number, { written: number; read: number }>;

function parseCounts(stdout: string): Counts {
  const counts: Counts = new Map();
  for (const line of stdout.trim().split('\n')) {
    const [port, written, read] = line.split(' ').map(Number) as [number, number, number];
    counts.set(port, { written, read });
  }
  return counts;
}

/** `docker exec` in the foreground, collecting stdout until the command exits. */
function execCollect(container: string, ...cmd: string[]): { done: Promise<string>; listening: Promise<void> } {
  const child = spawn('docker', ['exec', container, ...cmd], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let onListening: () => void = () => {};
  const listening = new Promise<void>((resolve) => (onListening = resolve));
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString();
    if (err.includes('listening')) onListening();
  });
  const done = new Promise<string>((resolve, reject) =>
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd.join(' ')} exited ${code}: ${err}`)))),
  );
  return { done, listening };
}

beforeAll(async () => {
  await ensureImage();
  resolver = new DockerContainerRegistry();
  await resolver.start();
  [server, client] = await fixturePair(resolver, SOURCE, 'tcpx', 'bwtest-net-xchg', containers);
});

afterAll(async () => {
  resolver?.close();
  await removeTestContainers(containers);
});

describe('cnetwork TCP flows are exact per socket (tp_btf variant, real containers)', () => {
  it(`${N} connections in every order of accept, data and close: one ended net.flow per side each, with the bytes each program wrote and read`, async () => {
    const events: IEvent[] = [];
    const failures: unknown[] = [];
    // A long interval: each flow is reported once, when its socket is gone, unless the map drain runs.
    const plugin = new CNetworkPlugin({ flowIntervalMs: 60_000 });
    await plugin.start(makeContext(resolver, events, failures));
    let serverCounts: Counts;
    let clientCounts: Counts;
    try {
      const serving = execCollect(server.name, '/tcpx', 'serve', String(PORT), String(N));
      await serving.listening;
      const r = await dockerExec(client.name, '/tcpx', 'connect', server.ip, String(PORT), String(N), '4');
      expect(r.code, r.stderr).toBe(0);
      clientCounts = parseCounts(r.stdout);
      serverCounts = parseCounts(await serving.done);
      const ended = (c: TestContainer) => events.filter((e) => e.type === 'net.flow' && e.cgroupId === c.cgroupId && (e as NetFlowEvent).ended).length;
      await until(() => ended(server) >= N && ended(client) >= N, `${N} ended flows per side`);
      const s = plugin.stats() as ReturnType<CNetworkPlugin['stats']> & { drops: Record<string, number> };
      expect(s.lost).toBe(0);
      expect(s.drops.tcpFlowMapFull).toBe(0);
    } finally {
      await plugin.stop();
    }
    expect(failures).toEqual([]);
    expect(clientCounts.size).toBe(N);
    expect(serverCounts.size).toBe(N);
    // Every pattern happened (tcpx.c's pattern(): from the client's port), and the one where the
    // client closes without reading left the server's answer unread.
    const pattern = (port: number) => ((Math.imul(port, 2654435761) >>> 0) >>> 13) % 4;
    const perPattern = [0, 1, 2, 3].map((p) => [...clientCounts.keys()].filter((port) => pattern(port) === p).length);
    expect(perPattern.every((n) => n >= N / 10), `connections per pattern: ${perPattern}`).toBe(true);
    const unread = [...clientCounts].filter(([port, c]) => pattern(port) === 2 && c.read === 0 && (serverCounts.get(port)?.written ?? 0) > 0);
    expect(unread.length).toBeGreaterThan(0);

    const flowsOf = (c: TestContainer) =>
      events.filter((e): e is NetFlowEvent => e.type === 'net.flow' && e.cgroupId === c.cgroupId && (e as NetFlowEvent).proto === 'tcp');
    for (const [side, c, counts, portOf] of [
      ['server', server, serverCounts, (f: NetFlowEvent) => f.dport],
      ['client', client, clientCounts, (f: NetFlowEvent) => f.sport],
    ] as const) {
      const flows = flowsOf(c);
      expect(flows.filter((f) => f.sport === 0 || f.dport === 0), `${side} flows without ports`).toEqual([]);
      const endedPerPort = new Map<number, number>();
      const bytes = new Map<number, { sent: number; recv: number }>();
      for (const f of flows) {
        const port = portOf(f);
        const b = bytes.get(port) ?? { sent: 0, recv: 0 };
        b.sent += f.bytes_sent; // deltas: a drain during the connection splits it into several reports
        b.recv += f.bytes_recv;
        bytes.set(port, b);
        if (f.ended) endedPerPort.set(port, (endedPerPort.get(port) ?? 0) + 1);
      }
      expect([...counts.keys()].filter((port) => endedPerPort.get(port) !== 1), `${side} sockets not ended exactly once`).toEqual([]);
      expect(flows.filter((f) => f.ended && f.state !== 'CLOSE'), `${side} flows ended in another state than CLOSE`).toEqual([]);
      expect(new Set(bytes.keys()), `${side} flows are the connections`).toEqual(new Set(counts.keys()));
      const wrong = [...counts].filter(([port, want]) => {
        const got = bytes.get(port);
        return got?.sent !== want.written || got.recv !== want.read;
      });
      expect(wrong.map(([port, want]) => ({ port, want, got: bytes.get(port) })).slice(0, 5), `${side} flows with wrong bytes`).toEqual([]);
      expect(flows.every((f) => (side === 'server' ? f.sport === PORT : f.dport === PORT) && f.peer_container !== null)).toBe(true);
    }
  }, 120_000);
});
