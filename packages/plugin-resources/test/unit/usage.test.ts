import { describe, expect, it } from 'vitest';
import { computeUsage, counterDelta, type RawSample } from '../../src/usage.js';
import type { CgroupCounters } from '../../src/cgroup-reader.js';

const GiB = 2 ** 30;

function sample(atMs: number, cgroup: Partial<CgroupCounters>, net: RawSample['net'] = { rx: 0, tx: 0 }): RawSample {
  return {
    monoNs: BigInt(atMs) * 1_000_000n,
    cgroup: {
      cpuNs: 0,
      throttledNs: 0,
      memoryBytes: 0,
      memoryLimitBytes: Number.POSITIVE_INFINITY,
      oomKills: 0,
      pids: 1,
      io: { read: 0, write: 0 },
      ...cgroup,
    },
    net,
  };
}

describe('computeUsage', () => {
  it('computes docker-stats-style CPU percent, above 100 on several cores', () => {
    const u = computeUsage(sample(0, { cpuNs: 0 }), sample(5000, { cpuNs: 7.5e9 }), 8 * GiB)!;
    expect(u.cpu_percent).toBe(150);
    expect(u.interval_ms).toBe(5000);
  });

  it('turns cumulative counters into per-interval amounts and keeps gauges as they are', () => {
    const prev = sample(1000, { cpuNs: 1e9, throttledNs: 2e6, oomKills: 1, io: { read: 10, write: 20 } }, { rx: 100, tx: 200 });
    const cur = sample(3000, { cpuNs: 1.5e9, throttledNs: 5.5e6, oomKills: 3, pids: 42, memoryBytes: 1234, memoryLimitBytes: GiB, io: { read: 110, write: 420 } }, { rx: 1100, tx: 700 });
    expect(computeUsage(prev, cur, 8 * GiB)).toEqual({
      cpu_percent: 25,
      cpu_throttled_ms: 3.5,
      memory_bytes: 1234,
      memory_limit_bytes: GiB,
      oom_kills: 2,
      pids: 42,
      io_read_bytes: 100,
      io_write_bytes: 400,
      net_rx_bytes: 1000,
      net_tx_bytes: 500,
      interval_ms: 2000,
    });
  });

  it('bounds an unlimited (or larger-than-RAM) memory limit by the host RAM', () => {
    expect(computeUsage(sample(0, {}), sample(1000, { memoryLimitBytes: Number.POSITIVE_INFINITY }), 8 * GiB)!.memory_limit_bytes).toBe(8 * GiB);
    expect(computeUsage(sample(0, {}), sample(1000, { memoryLimitBytes: 9223372036854771712 }), 8 * GiB)!.memory_limit_bytes).toBe(8 * GiB);
  });

  it('treats a counter that went backwards as restarted within the interval', () => {
    expect(counterDelta(1000, 1500)).toBe(500);
    expect(counterDelta(1000, 300)).toBe(300);
    const u = computeUsage(
      sample(0, { cpuNs: 50e9, io: { read: 1e6, write: 1e6 } }, { rx: 1e6, tx: 1e6 }),
      sample(1000, { cpuNs: 0.2e9, io: { read: 10, write: 20 } }, { rx: 30, tx: 40 }),
      GiB,
    )!;
    expect(u.cpu_percent).toBe(20);
    expect([u.io_read_bytes, u.io_write_bytes, u.net_rx_bytes, u.net_tx_bytes]).toEqual([10, 20, 30, 40]);
    for (const v of Object.values(u)) expect(v === null || v >= 0).toBe(true);
  });

  it('gives null for what cannot be measured, and no usage without elapsed time', () => {
    const u = computeUsage(sample(0, {}, null), sample(1000, { pids: null, io: null, throttledNs: null, oomKills: null }, null), GiB)!;
    expect(u).toMatchObject({ pids: null, io_read_bytes: null, io_write_bytes: null, net_rx_bytes: null, net_tx_bytes: null, cpu_throttled_ms: null, oom_kills: null });
    expect(computeUsage(sample(1000, {}), sample(1000, {}), GiB)).toBeNull();
  });
});
