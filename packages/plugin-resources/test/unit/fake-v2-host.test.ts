/**
 * The whole plugin on a made-up cgroup v2 host: a fake procfs (mountinfo, meminfo, the container's
 * /proc/<pid>/{cgroup,net/dev}) and a fake cgroup2 tree with systemd scope naming. This host runs
 * Docker on cgroup v1, so this is where the v2 readers are exercised end to end.
 */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ResourcesPlugin, type ResourceUsageEvent } from '@boxwatch/plugin-resources';
import { EventLog, RecordingLogger, makeContext, staticResolver } from '../harness.js';

const ID = 'c'.repeat(64);
const PID = 4242;
const MiB = 2 ** 20;

describe('resources plugin on a cgroup v2 host (fake tree)', () => {
  let root: string;
  let cg: string;
  let proc: string;

  async function writeCounters(v: { usageUsec: number; throttledUsec: number; current: number; inactiveFile: number; oom: number; pids: number; rbytes: number; wbytes: number; rx: number; tx: number }) {
    // Rewritten in place (same inode) so the plugin's open descriptors see the new content, like a seq_file.
    await writeFile(path.join(cg, 'cpu.stat'), `usage_usec ${v.usageUsec}\nuser_usec 1\nsystem_usec 1\nnr_periods 3\nnr_throttled 1\nthrottled_usec ${v.throttledUsec}\n`);
    await writeFile(path.join(cg, 'memory.current'), `${v.current}\n`);
    await writeFile(path.join(cg, 'memory.stat'), `anon 1\nfile 2\nactive_file 3\ninactive_file ${v.inactiveFile}\n`);
    await writeFile(path.join(cg, 'memory.events'), `low 0\nhigh 0\nmax 2\noom 1\noom_kill ${v.oom}\noom_group_kill 0\n`);
    await writeFile(path.join(cg, 'pids.current'), `${v.pids}\n`);
    await writeFile(path.join(cg, 'io.stat'), `254:0 rbytes=${v.rbytes} wbytes=${v.wbytes} rios=1 wios=1 dbytes=0 dios=0\n`);
    await writeFile(
      path.join(proc, String(PID), 'net/dev'),
      'Inter-|   Receive                                                |  Transmit\n' +
        ' face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n' +
        '    lo:  999999 1 0 0 0 0 0 0 999999 1 0 0 0 0 0 0\n' +
        `  eth0: ${v.rx} 1 0 0 0 0 0 0 ${v.tx} 1 0 0 0 0 0 0\n`,
    );
  }

  beforeAll(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'bw-res-v2-'));
    proc = path.join(root, 'proc');
    cg = path.join(root, 'cgroup/system.slice', `docker-${ID}.scope`);
    await mkdir(cg, { recursive: true });
    await mkdir(path.join(proc, 'self'), { recursive: true });
    await mkdir(path.join(proc, String(PID), 'net'), { recursive: true });
    await writeFile(path.join(proc, 'self/mountinfo'), `30 23 0:26 / ${path.join(root, 'cgroup')} rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n`);
    await writeFile(path.join(proc, 'meminfo'), 'MemTotal:        2097152 kB\n');
    await writeFile(path.join(proc, String(PID), 'cgroup'), `0::/system.slice/docker-${ID}.scope\n`);
    await writeFile(path.join(cg, 'memory.max'), 'max\n');
    await writeCounters({ usageUsec: 1_000_000, throttledUsec: 0, current: 10 * MiB, inactiveFile: 2 * MiB, oom: 0, pids: 3, rbytes: 0, wbytes: 0, rx: 100, tx: 100 });
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('reads cpu.stat, memory.*, pids.current, io.stat and net/dev into resource.usage', async () => {
    const log = new EventLog();
    const logger = new RecordingLogger();
    // One second leaves the rewrite below (a few ms) well clear of the next sampling pass.
    const plugin = new ResourcesPlugin({ intervalMs: 1000, procRoot: proc, initPid: async (id) => (id === ID ? PID : null) });
    const info = { id: ID, name: 'fake', image: 'busybox', labels: {} };
    await plugin.start(makeContext(staticResolver([info]), log.push, logger));
    try {
      expect(plugin.stats()).toMatchObject({ layout: 'cgroup-v2', containers: 1 });
      // The baseline is taken; what changes now lands in the next interval's event.
      await writeCounters({ usageUsec: 1_000_000, throttledUsec: 7_000, current: 60 * MiB, inactiveFile: 4 * MiB, oom: 2, pids: 201, rbytes: 4096, wbytes: 8192, rx: 1100, tx: 600 });
      const [e] = (await log.waitFor((x) => x.type === 'resource.usage', 1)) as ResourceUsageEvent[];
      expect(e).toMatchObject({
        cpu_percent: 0, // usage_usec did not move
        cpu_throttled_ms: 7,
        memory_bytes: 56 * MiB, // memory.current minus inactive_file
        memory_limit_bytes: 2 * 2 ** 30, // "max" → the host's 2 GiB
        oom_kills: 2,
        pids: 201,
        io_read_bytes: 4096,
        io_write_bytes: 8192,
        net_rx_bytes: 1000, // lo is not counted
        net_tx_bytes: 500,
      });
      expect(e!.container).toEqual(info);
      expect(e!.interval_ms).toBeGreaterThan(0);
      expect(logger.problems).toEqual([]);
    } finally {
      await plugin.stop();
    }
    expect(plugin.stats().containers).toBe(0);
  });

  it('skips a listed container that has no running process, without errors', async () => {
    const log = new EventLog();
    const logger = new RecordingLogger();
    const plugin = new ResourcesPlugin({ intervalMs: 100, procRoot: proc, initPid: async () => null });
    await plugin.start(makeContext(staticResolver([{ id: ID }]), log.push, logger));
    await plugin.stop();
    expect(plugin.stats()).toMatchObject({ containers: 0, errors: 0, intervals: 1 });
    expect(log.events).toEqual([]);
    expect(logger.problems).toEqual([]);
  });

  it('starts again after stop (control API disable → enable) and samples the container again', async () => {
    const log = new EventLog();
    const logger = new RecordingLogger();
    const plugin = new ResourcesPlugin({ intervalMs: 100, procRoot: proc, initPid: async (id) => (id === ID ? PID : null) });
    const ctx = makeContext(staticResolver([{ id: ID }]), log.push, logger);
    await plugin.start(ctx);
    await plugin.stop();
    expect(plugin.stats().containers).toBe(0);
    await plugin.start(ctx);
    try {
      expect(plugin.stats().containers).toBe(1);
      await log.waitFor((x) => x.type === 'resource.usage', 1);
      await expect(plugin.start(ctx)).rejects.toThrow(/already started/);
    } finally {
      await plugin.stop();
    }
    expect(logger.problems).toEqual([]);
  });
});
