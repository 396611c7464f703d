/**
 * UDP flows and banned pairs against the real kernel and real containers. busybox nc has no -u, so
 * a tiny static C sender/receiver (test/fixtures/udp.c, compiled here with `gcc -static -O2` and
 * cached under .cache/) is copied into busybox containers; S (and T) send a known number of bytes
 * to R and the plugin's net.flow / net.banned figures must match what the sender's and the
 * receiver's syscalls returned, exactly.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { DockerContainerRegistry, type IEvent } from '@boxwatch/core';
import { docker as dockerCli, dockerExec, removeTestContainers, startTestContainer, type TestContainer } from '@boxwatch/core/testing';
import { CNetworkPlugin, type NetBannedEvent, type NetFlowEvent } from '@boxwatch/plugin-cnetwork';
import { buildStaticFixture, ensureImage, makeContext } from '../harness.js';

const SOURCE = fileURLToPath(new URL('../fixtures/udp.c', import.meta.url));

const containers: TestContainer[] = [];
let resolver: DockerContainerRegistry;
let fixture: string;
let sender: TestContainer;
let receiver: TestContainer;
let third: TestContainer;

async function start(prefix: string): Promise<TestContainer> {
  const c = await startTestContainer({ prefix });
  containers.push(c);
  await dockerCli('cp', fixture, `${c.name}:/udp`);
  await resolver.inspect(c.id);
  return c;
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const udpFlows = (events: IEvent[]) => events.filter((e): e is NetFlowEvent => e.type === 'net.flow' && (e as NetFlowEvent).proto === 'udp');
const bannedOf = (events: IEvent[]) => events.filter((e): e is NetBannedEvent => e.type === 'net.banned');

type SendMode = 'connect' | 'sendto' | 'sendmsg';
type RecvMode = 'recv' | 'recvfrom' | 'recvmsg' | 'recvmmsg';
type Family = '4' | '6';

/** R starts receiving `bytes` on `port` (wildcard-bound socket of `family`) in the background. */
async function startReceiver(port: number, bytes: number, mode: RecvMode = 'recv', family: Family = '4'): Promise<void> {
  await dockerCli('exec', '-d', receiver.name, 'sh', '-c', `/udp recv ${port} ${bytes} 5 ${mode} ${family} > /tmp/recv-${port} 2>&1; echo $? >> /tmp/recv-${port}`);
  await receiverBound(port);
}

/** `from` sends `count` datagrams of `size` bytes to R:`port`; what its syscalls returned. */
async function send(from: TestContainer, mode: SendMode, port: number, count: number, size: number, family: Family = '4') {
  const s = await dockerExec(from.name, '/udp', 'send', mode, receiver.ip, String(port), String(count), String(size), family);
  expect(s.code, s.stderr).toBe(0);
  const [, sent, datagrams, sport] = /^sent (\d+) (\d+) (\d+)/.exec(s.stdout)!.map(Number) as [number, number, number, number];
  return { sent, datagrams, sport };
}

/** R receives on `port` in the background; S sends; returns what each side's syscalls reported. */
async function transfer(mode: SendMode, port: number, count: number, size: number, recvMode: RecvMode = 'recv', family: Family = '4') {
  await startReceiver(port, count * size, recvMode, family);
  const deadline = Date.now() + 10_000;
  const s = await send(sender, mode, port, count, size, family);
  return { ...s, received: await receiverResult(port, deadline + 10_000) };
}

async function receiverBound(port: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while ((await dockerExec(receiver.name, 'test', '-e', `/tmp/udp-ready-${port}`)).code !== 0) {
    if (Date.now() > deadline) throw new Error(`receiver on ${port} did not bind`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Receive calls the receiver on `port` made, by port, once it finished (see receiverResult). */
const receiveCalls = new Map<number, { datagrams: number; calls: number }>();

/** Bytes the receiver on `port` got (it writes "received <bytes> <n> <calls>" and its exit code). */
async function receiverResult(port: number, deadline: number): Promise<number> {
  let out = '';
  while (!/\n\d+\n$/.test(out)) {
    if (Date.now() > deadline) throw new Error(`receiver on ${port} did not finish: ${out}`);
    await new Promise((r) => setTimeout(r, 50));
    out = (await dockerExec(receiver.name, 'cat', `/tmp/recv-${port}`)).stdout;
  }
  const [, bytes, datagrams, calls] = /^received (\d+) (\d+) (\d+)/.exec(out)!.map(Number) as [number, number, number, number];
  receiveCalls.set(port, { datagrams, calls });
  return bytes;
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
  fixture = buildStaticFixture(SOURCE, 'udp');
  resolver = new DockerContainerRegistry();
  await resolver.start();
  receiver = await start('bwtest-net-udp-r');
  sender = await start('bwtest-net-udp-s');
  third = await start('bwtest-net-udp-t');
});

afterAll(async () => {
  resolver?.close();
  await removeTestContainers(containers);
});

describe('cnetwork UDP flows (tp_btf variant, real containers)', () => {
  // Different counts and sizes per case: a figure from the wrong transfer cannot match. Each case
  // receives with another call that asks for the source address (recvmsg on an AF_INET6 socket:
  // the IPv4 sender arrives v4-mapped).
  for (const [mode, port, count, size, recvMode, family] of [
    ['connect', 6000, 40, 1234, 'recvfrom', '4'],
    ['sendto', 6001, 33, 999, 'recvmsg', '6'],
    ['sendmsg', 6002, 27, 1472, 'recvmmsg', '4'],
  ] as const) {
    it(`${mode} → ${recvMode} (AF_INET${family === '6' ? '6' : ''}): net.flow of the sender has the destination and exactly the bytes sent, the receiver's the source and exactly the bytes received`, async () => {
      const events: IEvent[] = [];
      const plugin = new CNetworkPlugin({ flowIntervalMs: 60_000, udpAddresses: 'syscall' });
      await plugin.start(makeContext(resolver, events));
      let r: Awaited<ReturnType<typeof transfer>>;
      try {
        expect(plugin.stats()).toMatchObject({ variant: 'tp_btf', udpDestinations: 'syscall', udpSources: 'syscall' });
        r = await transfer(mode, port, count, size, recvMode, family);
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
        expect(e.saddr).toBe(mode === 'connect' ? sender.ip : family === '6' ? '::' : '0.0.0.0');
        expect(e).toMatchObject({ proto: 'udp', state: null, states_seen: [], bytes_recv: 0, comm: 'udp', peer_container: { id: receiver.id, name: receiver.name } });
        expect(e.container?.name).toBe(sender.name);
      }
      expect(sum(mine.map((e) => e.bytes_sent))).toBe(count * size);
      // Nothing of this transfer was counted against another destination or the unspecified address.
      const others = udpFlows(events).filter((e) => e.cgroupId === sender.cgroupId && e.sport === r.sport && (e.daddr !== receiver.ip || e.dport !== port));
      expect(others).toEqual([]);

      // The receiver: one flow per (socket, source), the source being the sender's socket.
      const theirs = udpFlows(events).filter((e) => e.cgroupId === receiver.cgroupId && e.sport === port);
      expect(theirs.length).toBeGreaterThan(0);
      for (const e of theirs) {
        expect([e.saddr, e.daddr, e.dport]).toEqual([family === '6' ? '::' : '0.0.0.0', sender.ip, r.sport]);
        expect(e).toMatchObject({ proto: 'udp', state: null, states_seen: [], bytes_sent: 0, comm: 'udp', peer_container: { id: sender.id, name: sender.name } });
        expect(e.container?.name).toBe(receiver.name);
      }
      expect(sum(theirs.map((e) => e.bytes_recv))).toBe(r.received);
      // recvmmsg returned several datagrams per call (each settled with its own message's address)
      if (recvMode === 'recvmmsg') expect(receiveCalls.get(port)!.calls).toBeLessThan(count);
    });
  }

  it('by default (udpAddresses: socket) attaches no syscall hooks: a connected socket still has its peer, an unconnected one counts exactly against the unspecified address', async () => {
    const events: IEvent[] = [];
    const plugin = new CNetworkPlugin({ flowIntervalMs: 60_000 });
    await plugin.start(makeContext(resolver, events));
    let connected: Awaited<ReturnType<typeof transfer>>;
    let unconnected: Awaited<ReturnType<typeof transfer>>;
    try {
      expect(plugin.stats()).toMatchObject({ variant: 'tp_btf', udpDestinations: 'socket', udpSources: 'socket' });
      connected = await transfer('connect', 6020, 19, 611, 'recvfrom', '4');
      unconnected = await transfer('sendto', 6021, 23, 733, 'recvfrom', '4');
      plugin.drainFlows();
      expect(plugin.stats().lost).toBe(0);
    } finally {
      await plugin.stop();
    }
    const flowsOf = (sport: number) => udpFlows(events).filter((e) => e.cgroupId === sender.cgroupId && e.sport === sport);
    const c = flowsOf(connected.sport);
    expect(c.map((e) => [e.daddr, e.dport])).toEqual(c.map(() => [receiver.ip, 6020]));
    expect(sum(c.map((e) => e.bytes_sent))).toBe(19 * 611);
    const u = flowsOf(unconnected.sport);
    expect(u.map((e) => [e.daddr, e.dport])).toEqual(u.map(() => ['0.0.0.0', 0]));
    expect(sum(u.map((e) => e.bytes_sent))).toBe(23 * 733);
  });

  it('sendmmsg: each message is counted against its own destination', async () => {
    const events: IEvent[] = [];
    const plugin = new CNetworkPlugin({ flowIntervalMs: 60_000, udpAddresses: 'syscall' });
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
    // The receivers use recv(), which asks for no source address: their unconnected sockets count
    // the bytes against the unspecified peer (docs/events/net.md), exactly.
    const recvd = (p: number) => udpFlows(events).filter((e) => e.cgroupId === receiver.cgroupId && e.sport === p);
    for (const p of [6003, 6004, 6005]) for (const e of recvd(p)) expect([e.daddr, e.dport, e.bytes_sent]).toEqual(['0.0.0.0', 0, 0]);
    expect([6003, 6004, 6005].map((p) => sum(recvd(p).map((e) => e.bytes_recv)))).toEqual(r.received);
  });

  it('banned pair R–S: every UDP datagram both ways is reported with exact bytes (IPv4 and v4-mapped, wildcard and connected sockets); T is not', async () => {
    const events: IEvent[] = [];
    const plugin = new CNetworkPlugin({ flowIntervalMs: 60_000, udpAddresses: 'syscall' });
    await plugin.start(makeContext(resolver, events));
    // [send mode, port, count, size, receive call, socket family]. S → R four ways; T sends to R
    // at the same time as S in every case (count 9, size 888: other figures than S's), so R's
    // queue and recvmmsg batches interleave S's datagrams with T's.
    const cases = [
      ['sendto', 6010, 21, 1111, 'recvfrom', '4'], // both ends wildcard-bound: matched by network namespace
      ['sendmsg', 6011, 17, 1333, 'recvmsg', '6'], // AF_INET6 sockets, v4-mapped addresses
      ['connect', 6012, 13, 777, 'recvmmsg', '4'], // connected sender: matched by the address pair
      ['connect', 6013, 11, 555, 'recvmmsg', '6'], // connected AF_INET6 sender (v4-mapped pair)
    ] as const;
    const T_COUNT = 9;
    const T_SIZE = 888;
    const results: Array<{ port: number; family: Family; s: { sent: number; sport: number }; t: { sent: number; sport: number }; received: number }> = [];
    try {
      const rule = await plugin.addRule({ id: 'r-s', a: { container: receiver.name }, b: { container: sender.name } });
      expect(rule.addresses).toEqual({ a: [receiver.ip], b: [sender.ip] });
      expect(plugin.stats()).toMatchObject({ udpSources: 'syscall', bannedPairsInstalled: 2, bannedNetnsInstalled: 2 });
      for (const [mode, port, count, size, recvMode, family] of cases) {
        await startReceiver(port, count * size + T_COUNT * T_SIZE, recvMode, family);
        const deadline = Date.now() + 20_000;
        const [s, t] = await Promise.all([send(sender, mode, port, count, size, family), send(third, 'sendto', port, T_COUNT, T_SIZE, family)]);
        const received = await receiverResult(port, deadline);
        expect([s.sent, t.sent, received]).toEqual([count * size, T_COUNT * T_SIZE, count * size + T_COUNT * T_SIZE]);
        results.push({ port, family, s, t, received });
      }
      // Records travel through the ring buffer, drained every 10 ms.
      await new Promise((r) => setTimeout(r, 300));
      plugin.drainFlows();
      expect(plugin.stats().lost).toBe(0);
    } finally {
      await plugin.stop();
    }
    // The recvmmsg receivers got datagrams of both senders in one call.
    for (const port of [6012, 6013]) expect(receiveCalls.get(port)!.calls).toBeLessThan(receiveCalls.get(port)!.datagrams);

    const banned = bannedOf(events);
    expect(banned.length).toBeGreaterThan(0);
    for (const e of banned) expect([e.proto, e.rule]).toEqual(['udp', 'r-s']);
    for (const { port, s } of results) {
      // S's sends, from S's own process, local end S (its container address, also for the
      // wildcard-bound socket), remote end R:port.
      const sends = banned.filter((e) => e.direction === 'send' && e.dport === port);
      expect(sum(sends.map((e) => e.bytes)), `banned bytes sent to ${port}`).toBe(s.sent);
      for (const e of sends) {
        expect([e.cgroupId, e.container?.name, e.comm]).toEqual([sender.cgroupId, sender.name, 'udp']);
        expect([e.saddr, e.sport, e.daddr]).toEqual([sender.ip, s.sport, receiver.ip]);
      }
      // R's receives of S's datagrams (not T's), from R's own process: local end R:port, remote end S's socket.
      const recvs = banned.filter((e) => e.direction === 'recv' && e.sport === port);
      expect(sum(recvs.map((e) => e.bytes)), `banned bytes received on ${port}`).toBe(s.sent);
      for (const e of recvs) {
        expect([e.cgroupId, e.container?.name, e.comm]).toEqual([receiver.cgroupId, receiver.name, 'udp']);
        expect([e.saddr, e.daddr, e.dport]).toEqual([receiver.ip, sender.ip, s.sport]);
      }
    }
    // Nothing else: every record belongs to one of the S → R transfers, none to T.
    const ports = new Set(results.map((r) => r.port));
    expect(banned.filter((e) => !ports.has(e.direction === 'send' ? e.dport : e.sport))).toEqual([]);
    expect(banned.some((e) => e.saddr === third.ip || e.daddr === third.ip || e.cgroupId === third.cgroupId)).toBe(false);
    // T's traffic was seen: R's flows count each sender's datagrams against that sender, exactly.
    for (const { port, family, s, t } of results) {
      const r = udpFlows(events).filter((e) => e.cgroupId === receiver.cgroupId && e.sport === port);
      const from = (c: TestContainer, sport: number) => sum(r.filter((e) => e.daddr === c.ip && e.dport === sport).map((e) => e.bytes_recv));
      expect([from(sender, s.sport), from(third, t.sport)], `R's flows on ${port}`).toEqual([s.sent, t.sent]);
      expect(sum(r.map((e) => e.bytes_recv))).toBe(s.sent + t.sent);
      for (const e of r) expect(e.saddr).toBe(family === '6' ? '::' : '0.0.0.0');
      const toR = udpFlows(events).filter((e) => e.cgroupId === third.cgroupId && e.sport === t.sport && e.daddr === receiver.ip && e.dport === port);
      expect(sum(toR.map((e) => e.bytes_sent))).toBe(t.sent);
    }
  });
});
