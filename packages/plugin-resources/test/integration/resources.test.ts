/**
 * The resources plugin against real containers on this host's cgroups. Each figure the plugin
 * reports is checked against an independent reading: `docker stats`, or the cgroup file itself
 * read synchronously at the moment the event is emitted.
 */
import { readFileSync, existsSync } from 'node:fs';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerContainerRegistry, type IEvent } from '@boxwatch/core';
import { ResourcesPlugin, type ResourceUsageEvent } from '@boxwatch/plugin-resources';
import {
  EventLog,
  RecordingLogger,
  docker,
  ensureImage,
  makeContext,
  removeContainers,
  startContainer,
  staticResolver,
  type TestContainer,
} from '../harness.js';

const started: TestContainer[] = [];
async function container(role: string, cmd: string[], runArgs: string[] = []): Promise<TestContainer> {
  const c = await startContainer(role, cmd, runArgs);
  started.push(c);
  return c;
}

const isUsage = (id: string) => (e: IEvent): e is ResourceUsageEvent => e.type === 'resource.usage' && e.container?.id === id;

/** Reads a container's cgroup v1 file directly (this host and CI run Docker on cgroup v1 / cgroupfs). */
function cgroupFile(controller: string, id: string, file: string): string {
  return readFileSync(`/sys/fs/cgroup/${controller}/docker/${id}/${file}`, 'latin1');
}
function statKey(text: string, key: string): number {
  const m = new RegExp(`^${key} (\\d+)$`, 'm').exec(text);
  if (!m) throw new Error(`${key} missing`);
  return Number(m[1]);
}
const hostMemTotal = Number(/^MemTotal:\s+(\d+)/m.exec(readFileSync('/proc/meminfo', 'latin1'))![1]) * 1024;

async function waitUntil(check: () => Promise<boolean> | boolean): Promise<void> {
  while (!(await check())) await new Promise((r) => setTimeout(r, 200));
}

beforeAll(async () => {
  if (!existsSync('/sys/fs/cgroup/cpuacct/docker') && !existsSync('/sys/fs/cgroup/cpuacct')) {
    throw new Error('these tests read cgroup v1 files to cross-check the plugin; this host has no cgroup v1 cpuacct');
  }
  await ensureImage();
});

afterAll(async () => {
  await removeContainers(started);
});

describe('resources plugin on real containers', () => {
  it('reports a CPU spinner as docker stats does, and an idle container near 0', async () => {
    // The quota makes the spinner's share independent of what else runs on this shared host.
    const spinner = await container('spin', ['sh', '-c', 'while :; do :; done'], ['--cpus', '0.5']);
    const idle = await container('idle', ['sleep', '600']);

    // Independent figure: the cgroup counter read by the test at the moment each event is emitted.
    const independent = new Map<IEvent, number>();
    let last: { cpuNs: number; mono: bigint } | null = null;
    const log = new EventLog();
    const logger = new RecordingLogger();
    const plugin = new ResourcesPlugin({ intervalMs: 2000 });
    await plugin.start(
      makeContext(staticResolver([spinner.info, idle.info]), (e) => {
        if (isUsage(spinner.id)(e)) {
          const now = { cpuNs: Number(cgroupFile('cpuacct', spinner.id, 'cpuacct.usage')), mono: process.hrtime.bigint() };
          if (last) independent.set(e, ((now.cpuNs - last.cpuNs) / Number(now.mono - last.mono)) * 100);
          last = now;
        }
        log.push(e);
      }, logger),
    );
    // The baseline pass also read the spinner: seed the independent reading at the same moment.
    last = { cpuNs: Number(cgroupFile('cpuacct', spinner.id, 'cpuacct.usage')), mono: process.hrtime.bigint() };
    try {
      await log.waitFor(isUsage(spinner.id), 1);
      // docker stats samples over about a second inside the next interval of ours.
      const statsOut = await docker('stats', '--no-stream', '--format', '{{.ID}} {{.CPUPerc}}', spinner.id, idle.id);
      const dockerCpu = new Map(statsOut.split('\n').map((l) => [l.split(' ')[0]!, parseFloat(l.split(' ')[1]!)] as const));
      const spinEvents = (await log.waitFor(isUsage(spinner.id), 2)) as ResourceUsageEvent[];
      const idleEvents = (await log.waitFor(isUsage(idle.id), 2)) as ResourceUsageEvent[];

      const during = spinEvents[1]!;
      const dockerSpin = dockerCpu.get(spinner.id.slice(0, 12));
      expect(dockerSpin).toBeGreaterThan(30); // docker agrees the quota-limited spinner is busy
      expect(Math.abs(during.cpu_percent - dockerSpin!)).toBeLessThanOrEqual(10);
      for (const e of spinEvents) {
        expect(e.cpu_percent).toBeGreaterThan(30);
        expect(e.cpu_percent).toBeLessThanOrEqual(55); // --cpus 0.5: the quota caps it at 50 %
        expect(Math.abs(e.cpu_percent - independent.get(e)!)).toBeLessThanOrEqual(10);
        expect(e.cpu_throttled_ms).toBeGreaterThan(0); // it hits the quota every period
        expect(e.interval_ms).toBeGreaterThan(1500);
        expect(e.pids).toBe(Number(cgroupFile('pids', spinner.id, 'pids.current')));
      }
      for (const e of idleEvents) {
        expect(e.cpu_percent).toBeLessThan(2);
        expect(e.cpu_throttled_ms).toBe(0);
        expect(e.memory_limit_bytes).toBe(hostMemTotal); // no limit: the host's RAM bounds it
      }
      expect(Math.abs(dockerCpu.get(idle.id.slice(0, 12))! - idleEvents[1]!.cpu_percent)).toBeLessThanOrEqual(10);
      // Header: the container comes from the resolver; the event is about the container, not a process.
      expect(during.container?.name).toBe(spinner.name);
      expect(during.pid).toBe(0);
      expect(during.toJSON()).toMatchObject({ type: 'resource.usage', cpu_percent: during.cpu_percent });
      expect(logger.problems).toEqual([]);
    } finally {
      await plugin.stop();
    }
  });

  it('reports memory held in a tmpfs and 200 forked sleepers as the cgroup files show them', async () => {
    const mem = await container(
      'mem',
      ['sh', '-c', 'dd if=/dev/zero of=/dev/shm/fill bs=1M count=50 2>/dev/null && touch /tmp/ready && exec sleep 600'],
      ['--memory', '256m'],
    );
    const forker = await container('fork', ['sh', '-c', 'i=0; while [ $i -lt 200 ]; do sleep 600 & i=$((i+1)); done; wait']);
    await waitUntil(async () => (await docker('exec', mem.id, 'ls', '/tmp')).includes('ready'));
    await waitUntil(() => Number(cgroupFile('pids', forker.id, 'pids.current')) >= 201);

    const expected = new Map<IEvent, { memory: number; pids: number }>();
    const log = new EventLog();
    const logger = new RecordingLogger();
    const plugin = new ResourcesPlugin({ intervalMs: 1000 });
    await plugin.start(
      makeContext(staticResolver([mem.info, forker.info]), (e) => {
        const id = e.container!.id!;
        const stat = cgroupFile('memory', id, 'memory.stat');
        const usage = Number(cgroupFile('memory', id, 'memory.usage_in_bytes'));
        expected.set(e, { memory: usage - statKey(stat, 'total_inactive_file'), pids: Number(cgroupFile('pids', id, 'pids.current')) });
        log.push(e);
      }, logger),
    );
    try {
      const [memEvent] = (await log.waitFor(isUsage(mem.id), 1)) as ResourceUsageEvent[];
      const [forkEvent] = (await log.waitFor(isUsage(forker.id), 1)) as ResourceUsageEvent[];

      expect(memEvent!.memory_bytes).toBeGreaterThanOrEqual(50 * 2 ** 20); // the tmpfs pages are charged to it
      expect(Math.abs(memEvent!.memory_bytes! - expected.get(memEvent!)!.memory)).toBeLessThan(2 ** 20);
      expect(memEvent!.memory_limit_bytes).toBe(256 * 2 ** 20);
      expect(memEvent!.oom_kills).toBe(0);

      expect(forkEvent!.pids).toBe(expected.get(forkEvent!)!.pids);
      expect(forkEvent!.pids).toBeGreaterThanOrEqual(201); // sh + 200 sleepers
      expect(Math.abs(forkEvent!.memory_bytes! - expected.get(forkEvent!)!.memory)).toBeLessThan(2 ** 20);
      expect(logger.problems).toEqual([]);
    } finally {
      await plugin.stop();
    }
  });

  it('counts network bytes in the container namespace and block I/O bytes in the interval', async () => {
    // blkio on cgroup v1 only accounts I/O on devices with a throttle rule (as on this kernel): a
    // generous limit turns accounting on without slowing the write.
    const dev = await dockerDataDevice();
    const writer = await container('io', ['sh', '-c', 'while [ ! -f /tmp/go ]; do sleep 0.1; done; dd if=/dev/zero of=/root/f bs=1M count=20 oflag=direct 2>/dev/null; exec sleep 600'], [
      '--device-write-bps',
      `${dev}:1gb`,
    ]);
    const peer = await container('peer', ['sleep', '600']);
    const peerIp = await docker('inspect', '-f', '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}', peer.id);

    const log = new EventLog();
    const logger = new RecordingLogger();
    const plugin = new ResourcesPlugin({ intervalMs: 1000 });
    await plugin.start(makeContext(staticResolver([writer.info, peer.info]), log.push, logger));
    try {
      await log.waitFor(isUsage(writer.id), 1);
      const before = log.events.length;
      await docker('exec', writer.id, 'touch', '/tmp/go');
      // 10 pings of 1000-byte payload: each ≥ 1042 bytes on the wire each way.
      await docker('exec', writer.id, 'ping', '-c', '10', '-i', '0.1', '-s', '1000', '-q', peerIp);
      await waitUntil(async () => (await docker('exec', writer.id, 'ls', '/root')).includes('f'));
      // Wait for two more intervals so the traffic and the write are fully inside reported ones.
      const n = log.ofContainer(writer.id).length;
      await log.waitFor(isUsage(writer.id), n + 2);
      await log.waitFor(isUsage(peer.id), n + 2);

      const after = log.events.slice(before) as ResourceUsageEvent[];
      const sum = (id: string, f: keyof ResourceUsageEvent) =>
        after.filter((e) => e.container?.id === id).reduce((s, e) => s + ((e[f] as number | null) ?? 0), 0);
      expect(sum(writer.id, 'net_tx_bytes')).toBeGreaterThanOrEqual(10 * 1042);
      expect(sum(writer.id, 'net_rx_bytes')).toBeGreaterThanOrEqual(10 * 1042);
      expect(sum(peer.id, 'net_rx_bytes')).toBeGreaterThanOrEqual(10 * 1042);
      expect(sum(writer.id, 'io_write_bytes')).toBeGreaterThanOrEqual(20 * 2 ** 20);
      expect(sum(peer.id, 'io_write_bytes')).toBe(0);
      expect(logger.problems).toEqual([]);
    } finally {
      await plugin.stop();
    }
  });

  it('lets a container stopped mid-interval disappear without errors while others keep reporting', async () => {
    const doomed = await container('doomed', ['sleep', '600']);
    const survivor = await container('survivor', ['sleep', '600']);
    const log = new EventLog();
    const logger = new RecordingLogger();
    const plugin = new ResourcesPlugin({ intervalMs: 1000 });
    // The resolver keeps listing the removed container, as a resolver that has not caught up would.
    await plugin.start(makeContext(staticResolver([doomed.info, survivor.info]), log.push, logger));
    try {
      await log.waitFor(isUsage(doomed.id), 1);
      expect(plugin.stats().containers).toBe(2);
      // Its accounting files are open; removing it now makes the next read fail under the plugin.
      await docker('rm', '-f', doomed.id);
      const afterRemoval = log.ofContainer(survivor.id).length;
      await log.waitFor(isUsage(survivor.id), afterRemoval + 3);
      const doomedEventsLate = log
        .ofContainer(doomed.id)
        .filter((e) => e.time.getTime() > log.ofContainer(survivor.id)[afterRemoval]!.time.getTime());
      expect(doomedEventsLate).toEqual([]);
      const stats = plugin.stats();
      expect(stats.vanished).toBeGreaterThanOrEqual(1);
      expect(stats.errors).toBe(0);
      expect(stats.containers).toBe(1);
      expect(logger.problems).toEqual([]);
    } finally {
      await plugin.stop();
    }
    expect(plugin.stats().containers).toBe(0);
  });

  it("runs on core's Docker registry: names, cgroup ids and init pids come from it, a stop drops the container", async () => {
    const watched = await container('reg', ['sleep', '600']);
    const registry = new DockerContainerRegistry();
    await registry.start();
    const log = new EventLog();
    const logger = new RecordingLogger();
    // Every running container on the host is sampled here, other engineers' included.
    const plugin = new ResourcesPlugin({ intervalMs: 1000 });
    const stopped = new Promise<void>((resolve) =>
      registry.onChange((c) => c.kind === 'stop' && c.container.id === watched.id && resolve()),
    );
    try {
      await plugin.start(makeContext(registry, log.push, logger));
      const [e] = (await log.waitFor(isUsage(watched.id), 1)) as ResourceUsageEvent[];
      expect(e!.container?.name).toBe(watched.name);
      expect(e!.cgroupId).toBe(registry.cgroupIdOf(watched.id));
      expect(e!.cgroupId).not.toBe(0n);
      expect(e!.pids).toBe(1);

      await docker('stop', '-t', '0', watched.id);
      await stopped;
      const intervalsAtStop = plugin.stats().intervals;
      const eventsAtStop = log.ofContainer(watched.id).length;
      await waitUntil(() => plugin.stats().intervals >= intervalsAtStop + 2);
      // At most the interval that was reading while the stop happened can still report it.
      const eventsAfter = log.ofContainer(watched.id).length;
      expect(eventsAfter - eventsAtStop).toBeLessThanOrEqual(1);
      await waitUntil(() => plugin.stats().intervals >= intervalsAtStop + 4);
      expect(log.ofContainer(watched.id).length).toBe(eventsAfter);
      expect(plugin.stats().errors).toBe(0);
      expect(logger.problems).toEqual([]);
    } finally {
      await plugin.stop();
      registry.close();
    }
  });
});

/** The block device holding Docker's data root, where the container's writable layer lives. */
async function dockerDataDevice(): Promise<string> {
  const root = await docker('info', '-f', '{{.DockerRootDir}}');
  const { stdout } = await promisify(execFile)('findmnt', ['-n', '-o', 'SOURCE', '--target', root]);
  const dev = stdout.trim().replace(/\[.*\]$/, '');
  if (!dev.startsWith('/dev/')) throw new Error(`Docker's data root ${root} is on ${dev}, not a block device: cannot account block I/O`);
  return dev;
}
