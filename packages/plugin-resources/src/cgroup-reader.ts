/**
 * Reads one container's cgroup accounting, v1 or v2, into the same counters. All files of a sample
 * are read concurrently; files this kernel lacks (no pids controller, no io.stat) give null fields
 * instead of failing the sample.
 */
import path from 'node:path';
import type { ContainerCgroup, V1Controller } from './cgroup-layout.js';
import { PinnedFile } from './pinned-file.js';
import { parseBlkioServiceBytes, parseFlatKeyed, parseIoStat, parseSingleValue, type IoBytes } from './parse.js';

/** Raw cumulative counters and gauges of one cgroup at one instant. */
export interface CgroupCounters {
  /** Cumulative CPU time, ns. */
  cpuNs: number;
  /** Cumulative time throttled by the CFS quota, ns. */
  throttledNs: number | null;
  /** Memory in use minus inactive page cache, bytes (what docker stats shows). */
  memoryBytes: number | null;
  /** Memory limit, bytes; Infinity when unlimited. */
  memoryLimitBytes: number | null;
  /** Cumulative OOM kills in the cgroup. */
  oomKills: number | null;
  /** Tasks (threads included) in the cgroup now. */
  pids: number | null;
  /** Cumulative block I/O bytes. */
  io: IoBytes | null;
}

export interface CgroupReader {
  read(): Promise<CgroupCounters>;
  close(): Promise<void>;
}

/** Opens the accounting files of a container's cgroup. Rejects (ENOENT) when the cgroup is gone. */
export async function openCgroupReader(cg: ContainerCgroup): Promise<CgroupReader> {
  return cg.version === 1 ? openV1(cg.dirs) : openV2(cg.dir);
}

type Files = Record<string, PinnedFile | null>;

async function openAll(spec: Record<string, { path: string | undefined; required: boolean; size?: number }>): Promise<Files> {
  const files: Files = {};
  try {
    for (const [key, { path: p, required, size }] of Object.entries(spec)) {
      if (p === undefined) files[key] = null;
      else files[key] = required ? await PinnedFile.open(p, size) : await PinnedFile.openOptional(p, size);
    }
  } catch (err) {
    await closeAll(files);
    throw err;
  }
  return files;
}

async function closeAll(files: Files): Promise<void> {
  await Promise.all(Object.values(files).map((f) => f?.close()));
}

function readAll(files: Files): Promise<Record<string, string | null>> {
  const keys = Object.keys(files);
  return Promise.all(keys.map((k) => files[k]?.readText() ?? null)).then((texts) => {
    const out: Record<string, string | null> = {};
    keys.forEach((k, i) => (out[k] = texts[i] ?? null));
    return out;
  });
}

/** docker stats subtracts inactive page cache: it is reclaimable, and counting it makes every reader of files look like a leak. */
function workingSet(usage: number, inactiveFile: number | undefined): number {
  return inactiveFile !== undefined && inactiveFile < usage ? usage - inactiveFile : usage;
}

const orNull = (v: number | undefined): number | null => (v === undefined ? null : v);

/** Parses a file's text, or gives null when the file does not exist on this host. */
function parsed<T>(text: string | null | undefined, parse: (text: string) => T): T | null {
  return text === null || text === undefined ? null : parse(text);
}

async function openV1(dirs: Partial<Record<V1Controller, string>>): Promise<CgroupReader> {
  const at = (dir: string | undefined, file: string) => (dir === undefined ? undefined : path.join(dir, file));
  const files = await openAll({
    cpu: { path: at(dirs.cpuacct, 'cpuacct.usage'), required: true },
    cpuStat: { path: at(dirs.cpu, 'cpu.stat'), required: false },
    memUsage: { path: at(dirs.memory, 'memory.usage_in_bytes'), required: false },
    memStat: { path: at(dirs.memory, 'memory.stat'), required: false, size: 4096 },
    memLimit: { path: at(dirs.memory, 'memory.limit_in_bytes'), required: false },
    oom: { path: at(dirs.memory, 'memory.oom_control'), required: false },
    pids: { path: at(dirs.pids, 'pids.current'), required: false },
    io: { path: at(dirs.blkio, 'blkio.throttle.io_service_bytes_recursive'), required: false, size: 1024 },
  });
  return {
    async read() {
      const t = await readAll(files);
      const cpuStat = parsed(t.cpuStat, parseFlatKeyed);
      const memStat = parsed(t.memStat, parseFlatKeyed);
      const usage = parsed(t.memUsage, parseSingleValue);
      const cpuNs = parsed(t.cpu, parseSingleValue);
      if (cpuNs === null) throw new Error('cpuacct.usage not open');
      return {
        cpuNs,
        throttledNs: orNull(cpuStat?.get('throttled_time')),
        memoryBytes: usage === null ? null : workingSet(usage, memStat?.get('total_inactive_file')),
        memoryLimitBytes: parsed(t.memLimit, parseSingleValue),
        oomKills: orNull(parsed(t.oom, parseFlatKeyed)?.get('oom_kill')),
        pids: parsed(t.pids, parseSingleValue),
        io: parsed(t.io, parseBlkioServiceBytes),
      };
    },
    close: () => closeAll(files),
  };
}

async function openV2(dir: string): Promise<CgroupReader> {
  const at = (file: string) => path.join(dir, file);
  const files = await openAll({
    cpuStat: { path: at('cpu.stat'), required: true },
    memCurrent: { path: at('memory.current'), required: false },
    memStat: { path: at('memory.stat'), required: false, size: 4096 },
    memMax: { path: at('memory.max'), required: false },
    memEvents: { path: at('memory.events'), required: false },
    pids: { path: at('pids.current'), required: false },
    io: { path: at('io.stat'), required: false, size: 1024 },
  });
  return {
    async read() {
      const t = await readAll(files);
      const cpuStat = parsed(t.cpuStat, parseFlatKeyed);
      const usageUsec = cpuStat?.get('usage_usec');
      if (usageUsec === undefined) throw new Error(`${at('cpu.stat')}: no usage_usec`);
      const throttledUsec = cpuStat?.get('throttled_usec');
      const memStat = parsed(t.memStat, parseFlatKeyed);
      const current = parsed(t.memCurrent, parseSingleValue);
      return {
        cpuNs: usageUsec * 1000,
        throttledNs: throttledUsec === undefined ? null : throttledUsec * 1000,
        memoryBytes: current === null ? null : workingSet(current, memStat?.get('inactive_file')),
        memoryLimitBytes: parsed(t.memMax, parseSingleValue),
        oomKills: orNull(parsed(t.memEvents, parseFlatKeyed)?.get('oom_kill')),
        pids: parsed(t.pids, parseSingleValue),
        io: parsed(t.io, parseIoStat),
      };
    },
    close: () => closeAll(files),
  };
}
