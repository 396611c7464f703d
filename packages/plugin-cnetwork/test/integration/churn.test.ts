/**
 * Connection churn against the real kernel: far more short TCP connections than the flow map
 * holds (maxFlows 16). A socket's flow leaves the map when the socket is destroyed, with its final
 * counters as a record, so the map holds only the sockets that exist and nothing is dropped: every
 * connection is one net.connect, one net.accept and one ended net.flow per side. The client is the
 * benchmark's static connection generator (bench/net/conns.c), paced: each client thread waits for
 * the server's close, so at most 2 connections exist at once (an unpaced client outruns the
 * one-thread server, and the connections waiting in its accept queue are live sockets that each
 * need an entry).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { DockerContainerRegistry, type IEvent } from '@boxwatch/core';
import { docker as dockerCli, dockerExec, removeTestContainers, type TestContainer } from '@boxwatch/core/testing';
import { CNetworkPlugin, type NetConnectEvent, type NetFlowEvent } from '@boxwatch/plugin-cnetwork';
import { ensureImage, fixturePair, makeContext, until } from '../harness.js';

const SOURCE = fileURLToPath(new URL('../../../../bench/net/conns.c', import.meta.url));
const containers: TestContainer[] = [];
let resolver: DockerContainerRegistry;
let server: TestContainer;
let client: TestContainer;

beforeAll(async () => {
  await ensureImage();
  resolver = new DockerContainerRegistry();
  await resolver.start();
  [server, client] = await fixturePair(resolver, SOURCE, 'conns', 'bwtest-net-churn', containers);
  await dockerCli('exec', '-d', server.name, '/conns', 'serve', '5002');
  const deadline = Date.now() + 10_000;
  while (!/:5002\b/.test((await dockerExec(server.name, 'netstat', '-ltn')).stdout)) {
    if (Date.now() > deadline) throw new Error('connection server did not listen');
    await new Promise((r) => setTimeout(r, 50));
  }
});

afterAll(async () => {
  resolver?.close();
  await removeTestContainers(containers);
});

describe('cnetwork under connection churn (tp_btf variant, real containers)', () => {
  it('reports every connection of 600 through a 16-entry flow map: connect, accept and an ended flow per side, nothing dropped', async () => {
    const N = 600;
    const events: IEvent[] = [];
    const plugin = new CNetworkPlugin({ flowIntervalMs: 60_000, maxFlows: 16 });
    await plugin.start(makeContext(resolver, events));
    try {
      const r = await dockerExec(client.name, '/conns', 'connect', server.ip, '5002', String(N), '2', 'paced');
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ connections: N, failed: 0 });
      // The server's side of the last connections ends when the client's RST reaches it (softirq),
      // which can trail the client's exit under load: wait for the sockets, not for a time.
      const ended = (c: TestContainer) => events.filter((e) => e.type === 'net.flow' && e.cgroupId === c.cgroupId && (e as NetFlowEvent).ended).length;
      await until(() => ended(client) >= N && ended(server) >= N, 'every socket of both sides destroyed');
      plugin.drainFlows();
      const s = plugin.stats() as ReturnType<CNetworkPlugin['stats']> & { drops: Record<string, number> };
      expect(s.lost).toBe(0);
      expect(s.drops.tcpFlowMapFull).toBe(0);
    } finally {
      await plugin.stop();
    }
    const of = <T extends IEvent>(type: string, c: TestContainer) => events.filter((e) => e.type === type && e.cgroupId === c.cgroupId) as T[];
    const connects = of<NetConnectEvent>('net.connect', client).filter((e) => e.dport === 5002);
    expect(connects).toHaveLength(N);
    expect(new Set(connects.map((e) => e.sport)).size).toBe(N); // N distinct client sockets
    expect(connects.every((e) => e.comm === 'conns' && e.peer_container?.name === server.name)).toBe(true);
    expect(of<NetConnectEvent>('net.accept', server).filter((e) => e.sport === 5002)).toHaveLength(N);
    // One net.flow per socket, reported when it was destroyed (the client RSTs on close: SO_LINGER 0).
    const clientFlows = of<NetFlowEvent>('net.flow', client).filter((e) => e.proto === 'tcp' && e.dport === 5002);
    expect(clientFlows).toHaveLength(N);
    expect(new Set(clientFlows.map((e) => e.sport)).size).toBe(N);
    expect(clientFlows.filter((e) => !(e.ended && e.state === 'CLOSE' && e.states_seen.includes('ESTABLISHED') && e.bytes_sent === 0)).map((e) => `${e.sport} ended=${e.ended} ${e.state} seen=${e.states_seen.join(',')} sent=${e.bytes_sent}`)).toEqual([]);
    const serverFlows = of<NetFlowEvent>('net.flow', server).filter((e) => e.proto === 'tcp' && e.sport === 5002);
    expect(serverFlows).toHaveLength(N);
    expect(new Set(serverFlows.map((e) => e.dport)).size).toBe(N);
    expect(serverFlows.filter((e) => !(e.ended && e.state === 'CLOSE')).map((e) => `${e.dport} ended=${e.ended} ${e.state} seen=${e.states_seen.join(',')}`)).toEqual([]);
  });
});
