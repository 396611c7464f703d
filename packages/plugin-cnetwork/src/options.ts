import { configError, resolveRingBufferTuning, type RingBufferTuning } from '@boxwatch/core';
import type Docker from 'dockerode';
import { parseRule, type BannedPairInput } from './rules.js';

export interface CNetworkOptions {
  /** How often flow counters are read into net.flow events (ms, default 5000, at least 100). */
  flowIntervalMs?: number;
  /** Also watch sockets in the host network namespace (default false: container sockets only). */
  includeHost?: boolean;
  /** Banned-pair rules installed at start. */
  rules?: BannedPairInput[];
  /** Docker API client for container addresses (default: the local socket). */
  docker?: Docker;
  /** Capacity of the kernel's banned-pair map (ordered pairs, default 4096). */
  maxBannedPairs?: number;
  /** Capacity of each flow map (default 16384). */
  maxFlows?: number;
  /**
   * Size of the event ring buffer in bytes (power of two, >= 64 KiB; default 4 MiB). A banned pair
   * produces a record per send and per receive, a connection about four records: size it for the
   * burst the drain must absorb. With 1 MiB, ~25k connections/s on a saturated 2-CPU machine filled
   * the buffer in about one benchmark round in six (full-buffer losses, none with room: gaps
   * between drains of ~100 ms); with 4 MiB none in fifteen.
   */
  ringBufferBytes?: number;
  /**
   * Where UDP datagrams of unconnected sockets get their peer address from.
   * - `'socket'` (default): the socket's connected peer only; datagrams of unconnected sockets are
   *   counted (bytes exact) against the unspecified address. No syscall hooks.
   * - `'syscall'`: also the address named in sendto/sendmsg/sendmmsg and the one recvfrom/recvmsg/
   *   recvmmsg return (classic syscall tracepoints). Costs every syscall on the machine ~45 ns
   *   (~90 ns next to plugin-syscall) while attached, because the kernel then runs its syscall
   *   tracing path for every task: opt in where per-destination UDP flows or UDP banned pairs on
   *   unconnected sockets are worth it.
   */
  udpAddresses?: 'socket' | 'syscall';
  /** How this plugin's ring buffers are read (staging buffer size, real-time drain thread): core's RingBufferTuning. */
  ringBuffer?: RingBufferTuning;
}

export interface ResolvedOptions {
  flowIntervalMs: number;
  includeHost: boolean;
  rules: BannedPairInput[];
  maxBannedPairs: number;
  maxFlows: number;
  ringBufferBytes: number;
  udpAddresses: 'socket' | 'syscall';
  ringBuffer: RingBufferTuning;
}

function positiveInt(value: unknown, field: string, min: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) throw configError(field, `must be an integer >= ${min}, got ${JSON.stringify(value)}`);
  return value;
}

export function resolveOptions(o: CNetworkOptions = {}): ResolvedOptions {
  if (o.includeHost !== undefined && typeof o.includeHost !== 'boolean') throw configError('includeHost', 'must be a boolean');
  if (o.rules !== undefined && !Array.isArray(o.rules)) throw configError('rules', 'must be an array of rules');
  (o.rules ?? []).forEach((r, i) => parseRule(r, `rules[${i}]`));
  if (o.udpAddresses !== undefined && o.udpAddresses !== 'socket' && o.udpAddresses !== 'syscall') {
    throw configError('udpAddresses', `must be 'socket' or 'syscall', got ${JSON.stringify(o.udpAddresses)}`);
  }
  return {
    flowIntervalMs: positiveInt(o.flowIntervalMs, 'flowIntervalMs', 100, 5000),
    includeHost: o.includeHost ?? false,
    rules: o.rules ?? [],
    maxBannedPairs: positiveInt(o.maxBannedPairs, 'maxBannedPairs', 2, 4096),
    maxFlows: positiveInt(o.maxFlows, 'maxFlows', 16, 16384),
    ringBufferBytes: powerOfTwo(o.ringBufferBytes, 'ringBufferBytes', 1 << 16, 1 << 22),
    udpAddresses: o.udpAddresses ?? 'socket',
    ringBuffer: resolveRingBufferTuning(o.ringBuffer),
  };
}

function powerOfTwo(value: unknown, field: string, min: number, fallback: number): number {
  const n = positiveInt(value, field, min, fallback);
  if ((n & (n - 1)) !== 0) throw configError(field, `must be a power of two, got ${n}`);
  return n;
}
