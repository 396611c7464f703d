/**
 * UDP flows against the real kernel and real containers. busybox nc has no -u, so a tiny static C
 * sender/receiver (test/fixtures/udp.c, compiled here with `gcc -static -O2` and cached under
 * .cache/) is copied into two busybox containers; S sends a known number of bytes to R and the
 * plugin's net.flow figures must match what the sender's syscalls returned, exactly.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DockerContainerRegistry, type IEvent } from '@boxwatch/core';
import { docker as dockerCli, dockerExec, removeTestContainers, startTestContainer, type TestContainer } from '@boxwatch/core/testing';
import { CNetworkPlugin, type NetFlowEvent } from '@boxwatch/plugin-cnetwork';
import { ensureImage, makeContext } from '../harness.js';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const SOURCE = fileURLToPath(new URL('../fixtures/udp.c', import.meta.url));

/** Compile the fixture once per source version: .cache/test-fixtures/udp-<sha256 prefix>. */
function buildFixture(): string {
  const hash = createHash('sha256').update(readFileSync(SOURCE)).digest('hex').slice(0, 16);
  const dir = join(ROOT, '.cache/test-fixtures');
  const bin = join(dir, `udp-${hash}`);
  if (existsSync(bin)) return bin;
  mkdirSync(dir, { recursive: true });
  const tmp = `${bin}.tmp-${process.pid}`;
  execFileSync('gcc', ['-static', '-O2', '-Wall', '-Werror', '-o', tmp, SOURCE], { stdio: ['ignore', 'inherit', 'inherit'] });
  renameSync(tmp, bin);
  return bin;
}

const containers: TestContainer[] = [];
let resolver: DockerContainerRegistry;
let fixture: string;
let sender: TestContainer;
let receiver: TestContainer;

async function start(prefix: string): Promise<TestContainer> {
  const c = await startTestContainer({ prefix });
  containers.push(c);
  await dockerCli('cp', fixture, `${c.name}:/udp`);
  await resolver.inspect(c.id);
  return c;
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const udpFlows = (events: IEvent[]) => events.filter((e): e is NetFlowEvent => e.type === 'net.flow' && (e as NetFlowEvent).proto === 'udp');

/** R receives on `port` in the background; S sends; returns what each side's syscalls reported. */
async function transfer(mode: 'connect' | 'sendto' | 'sendmsg', port: number, count: number, size: number) {
  const bytes = count * size;
  await dockerCli('exec', '-d', receiver.name, 'sh', '-c', `/udp recv ${port} ${bytes} 5 > /tmp/recv-${port} 2>&1; echo $? >> /tmp/recv-${port}`);
  await receiverBound(port);
  const deadline = Date.now() + 10_000;
  const s = await dockerExec(sender.name, '/udp', 'send', mode, receiver.ip, String(port), String(count), String(size));
  expect(s.code, s.stderr).toBe(0);
  const [, sent, datagrams, sport] = /^sent (\d+) (\d+) (\d+)/.exec(s.stdout)!.map(Number) as [number, number, number, number];
  return { sent, datagrams, sport, received: await receiverResult(port, deadline + 10_000) };
}

async function receiverBound(port: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while ((await dockerExec(receiver.name, 'test', '-e', `/tmp/udp-ready-${port}`)).code !== 0) {
    if (Date.now() > deadline) throw new Error(`receiver on ${port} did not bind`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Bytes the receiver on `port` got (it writes "received <bytes> <n>" and its exit code). */
async function receiverResult(port: number, deadline: number): Promise<number> {
  let out = '';
  while (!/\n\d+\n$/.test(out)) {
    if (Date.now() > deadline) throw new Error(`receiver on ${port} did not finish: ${out}`);
    await new Promise((r) => setTimeout(r, 50));
    out = (await dockerExec(receiver.name, 'cat', `/tmp/recv-${port}`)).stdout;
  }
  return Number(/^received (\d+)/.exec(out)![1]);
}

/** One unconnected socket, `rounds` sendmmsg calls each carrying one message per port (sizes 700, 800, ...). */
async function mmsgTransfer(ports: number[], rounds: number, size: number) {
  for (const [i, port] of ports.entries()) {
    const bytes = rounds * (size + i * 100);
    await dockerCli('exec', '-d', receiver.name, 'sh', '-c', `/udp recv ${port} ${bytes} 5 > /tmp/recv-${port} 2>&1; echo $? >> /tmp/recv-${port}`);
  }
  for (const port of ports) await receiverBound(port);
  const s = await dockerExec(sender.name, '/udp', 'sendmmsg', receiver.ip, ports.join(','), String(rounds), String(size));
  expect(s.code, s.stderr).toBe(0);
  const [, sent, , sport] = /^sent (\d+) (\d+) (\d+)/.exec(s.stdout)!.map(Number) as [number, number, number, number];
  const deadline = Date.now() + 20_000;
  const received: number[] = [];
  for (const port of ports) received.push(await receiverResult(port, deadline));
  return { sent, sport, received };
}

beforeAll(async () => {
  await ensureImage();
  fixture = buildFixture();
  resolver = new DockerContainerRegistry();
  await resolver.start();
  receiver = await start('bwtest-net-udp-r');
  sender = await start('bwtest-net-udp-s');
});

afterAll(async () => {
  resolver?.close();
  await removeTestContainers(containers);
});

describe('cnetwork UDP flows (tp_btf variant, real containers)', () => {
  // Different counts and sizes per case: a figure from the wrong transfer cannot match.
  for (const [mode, port, count, size] of [
    ['connect', 6000, 40, 1234],
    ['sendto', 6001, 33, 999],
    ['sendmsg', 6002, 27, 1472],
  ] as const) {
    it(`${mode}: net.flow of the sender has the destination and exactly the bytes sent`, async () => {
      const events: IEvent[] = [];
      const plugin = new CNetworkPlugin({ flowIntervalMs: 60_000 });
      await plugin.start(makeContext(resolver, events));
      let r: Awaited<ReturnType<typeof transfer>>;
      try {
        expect(plugin.stats()).toMatchObject({ variant: 'tp_btf', udpDestinations: 'syscall' });
        r = await transfer(mode, port, count, size);
        plugin.drainFlows();
        expect(plugin.stats().lost).toBe(0);
      } finally {
        await plugin.stop();
      }
      // The fixture's own view: every datagram sent and received.
      expect([r.sent, r.datagrams, r.received]).toEqual([count * size, count, count * size]);

      const mine = udpFlows(events).filter((e) => e.cgroupId === sender.cgroupId && e.sport === r.sport);
      expect(mine.length).toBeGreaterThan(0);
      for (const e of mine) {
        expect([e.daddr, e.dport]).toEqual([receiver.ip, port]);
        // A connected socket has its local address; an unconnected one is bound to the wildcard.
        expect(e.saddr).toBe(mode === 'connect' ? sender.ip : '0.0.0.0');
        expect(e).toMatchObject({ proto: 'udp', state: null, states_seen: [], bytes_recv: 0, comm: 'udp', peer_container: { id: receiver.id, name: receiver.name } });
        expect(e.container?.name).toBe(sender.name);
      }
      expect(sum(mine.map((e) => e.bytes_sent))).toBe(count * size);
      // Nothing of this transfer was counted against another destination or the unspecified address.
      const others = udpFlows(events).filter((e) => e.cgroupId === sender.cgroupId && e.sport === r.sport && (e.daddr !== receiver.ip || e.dport !== port));
      expect(others).toEqual([]);
      // UDP receives are not counted (docs/events/net.md): the receiver has no UDP flow.
      expect(udpFlows(events).filter((e) => e.cgroupId === receiver.cgroupId)).toEqual([]);
    });
  }

  it('sendmmsg: each message is counted against its own destination', async () => {
    const events: IEvent[] = [];
    const plugin = new CNetworkPlugin({ flowIntervalMs: 60_000 });
    await plugin.start(makeContext(resolver, events));
    let r: { sent: number; sport: number; received: number[] };
    try {
      r = await mmsgTransfer([6003, 6004, 6005], 5, 700);
      plugin.drainFlows();
    } finally {
      await plugin.stop();
    }
    // 5 rounds of sendmmsg, one 700+i*100-byte message to each of the three ports per round.
    expect(r.received).toEqual([5 * 700, 5 * 800, 5 * 900]);
    const mine = udpFlows(events).filter((e) => e.cgroupId === sender.cgroupId && e.sport === r.sport);
    const byPort = (p: number) => sum(mine.filter((e) => e.daddr === receiver.ip && e.dport === p).map((e) => e.bytes_sent));
    expect([byPort(6003), byPort(6004), byPort(6005)]).toEqual([5 * 700, 5 * 800, 5 * 900]);
    expect(sum(mine.map((e) => e.bytes_sent))).toBe(r.sent);
  });
});
