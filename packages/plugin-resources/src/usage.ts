/**
 * Turns two consecutive samples of one container into the fields of a `resource.usage` event.
 * Pure: the plugin supplies the samples, tests supply made-up ones.
 */
import type { CgroupCounters } from './cgroup-reader.js';
import type { NetBytes } from './parse.js';

/** One reading of a container: cgroup counters, network counters and when they were read. */
export interface RawSample {
  /** CLOCK_MONOTONIC ns when the counters were read. */
  monoNs: bigint;
  cgroup: CgroupCounters;
  /** null when the container's traffic cannot be told apart from the host's (`--network host`). */
  net: NetBytes | null;
}

/** Fields of a `resource.usage` event (see docs/events/resources.md). */
export interface ResourceUsageFields {
  /** CPU time used over wall time of the interval × 100; 100 per fully busy core, so it can exceed 100. */
  cpu_percent: number;
  /** Time the CFS quota held the container back during the interval, ms. */
  cpu_throttled_ms: number | null;
  /** Memory in use minus inactive page cache at the end of the interval (docker stats' figure), bytes. */
  memory_bytes: number | null;
  /** The memory limit, or the host's RAM when the container has none, bytes. */
  memory_limit_bytes: number | null;
  /** OOM kills inside the container during the interval. */
  oom_kills: number | null;
  /** Tasks (processes and threads) in the container at the end of the interval. */
  pids: number | null;
  /** Block device bytes read / written during the interval. */
  io_read_bytes: number | null;
  io_write_bytes: number | null;
  /** Bytes received / sent on the container's non-loopback interfaces during the interval. */
  net_rx_bytes: number | null;
  net_tx_bytes: number | null;
  /** Length of the interval the rates cover, ms. */
  interval_ms: number;
}

/**
 * Increase of a cumulative counter. A decrease means the counter restarted (the container was
 * restarted with a new cgroup, or its network namespace was recreated) somewhere inside the
 * interval: what it counts now was all counted since then, so the new value is the best
 * (lower-bound) estimate of the interval's share.
 */
export function counterDelta(prev: number, cur: number): number {
  return cur >= prev ? cur - prev : cur;
}

function deltaOrNull(prev: number | null | undefined, cur: number | null | undefined): number | null {
  if (cur === null || cur === undefined) return null;
  if (prev === null || prev === undefined) return null;
  return counterDelta(prev, cur);
}

const round2 = (x: number): number => Math.round(x * 100) / 100;

/**
 * Usage between `prev` and `cur`. Returns null when the samples do not span any time (same tick
 * read twice), since no rate can be computed.
 */
export function computeUsage(prev: RawSample, cur: RawSample, hostMemoryBytes: number): ResourceUsageFields | null {
  const wallNs = Number(cur.monoNs - prev.monoNs);
  if (!(wallNs > 0)) return null;
  const p = prev.cgroup;
  const c = cur.cgroup;
  const throttledNs = deltaOrNull(p.throttledNs, c.throttledNs);
  const limit = c.memoryLimitBytes;
  return {
    cpu_percent: round2((counterDelta(p.cpuNs, c.cpuNs) / wallNs) * 100),
    cpu_throttled_ms: throttledNs === null ? null : round2(throttledNs / 1e6),
    memory_bytes: c.memoryBytes,
    // An unlimited cgroup reports "max" (v2) or ~2^63 (v1): the host's RAM is the real ceiling, and
    // what docker stats shows too. A limit above the host's RAM is equally unreachable.
    memory_limit_bytes: limit === null ? null : Math.min(limit, hostMemoryBytes),
    oom_kills: deltaOrNull(p.oomKills, c.oomKills),
    pids: c.pids,
    io_read_bytes: deltaOrNull(p.io?.read, c.io?.read),
    io_write_bytes: deltaOrNull(p.io?.write, c.io?.write),
    net_rx_bytes: deltaOrNull(prev.net?.rx, cur.net?.rx),
    net_tx_bytes: deltaOrNull(prev.net?.tx, cur.net?.tx),
    interval_ms: Math.round(wallNs / 1e6),
  };
}
