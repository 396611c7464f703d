import { join } from 'node:path';
import { BpfObject } from '../bpf-object.js';
import * as codec from '../codec.js';
import { isBoxwatchError } from '../errors.js';
import type { FeatureReport } from '../features.js';
import type { BpfMap } from '../map.js';
import { PACKAGE_ROOT } from '../native.js';
import type { HookVariant } from '../plugin.js';
import { chooseVariant } from '../variant.js';
import { bw_cgroup_name_entry as L } from '../generated/cgroup-names.js';
import { containerIdFromCgroupName, runtimeFromCgroupName } from './cgroup-name.js';

const OBJECT = join(PACKAGE_ROOT, 'bpf/containers/cgroup-names.bpf.o');

/** The kernel programs that fill the table, in order of preference. */
export const CGROUP_NAME_VARIANTS: readonly HookVariant[] = [
  { name: 'tp_btf', programs: ['cgn_mkdir', 'cgn_fork', 'cgn_exec'], requires: ['tp_btf'], description: 'BTF tracepoints cgroup_mkdir, sched_process_fork/exec' },
  { name: 'raw_tp', programs: ['cgn_mkdir_raw', 'cgn_fork_raw', 'cgn_exec_raw'], requires: ['raw_tp'], description: 'raw tracepoints cgroup_mkdir, sched_process_fork/exec' },
];

const SOURCES = ['', 'mkdir', 'fork', 'exec'] as const;
const NAME_LEN = L.sizes.v1;
const LEVELS = L.sizes.dfl / NAME_LEN;

/** What the kernel recorded for one cgroup. */
export interface KernelCgroupName {
  /** The container id its name (or an ancestor's, or its v1 memory cgroup's) carries; null when none does. */
  containerId: string | null;
  /** The runtime that named it, when the name form says so. */
  runtime?: string;
  /** The cgroup's path below the default hierarchy's root, as far as recorded (up to 3 levels). */
  path: string;
  /** What recorded it first. */
  source: (typeof SOURCES)[number];
}

export interface KernelCgroupNamesStats {
  variant: string;
  /** Cgroups the kernel recorded since load. */
  recorded: number;
  /** Inserts the kernel could not make (the table would stay silent for those cgroups). */
  failed: number;
  lookups: number;
  /** Lookups the table answered with a container id. */
  containers: number;
}

function nameAt(buf: Buffer, offset: number): string {
  const end = buf.indexOf(0, offset);
  return buf.toString('utf8', offset, end < 0 || end > offset + NAME_LEN ? offset + NAME_LEN : end);
}

/**
 * The kernel's table of cgroup names (bpf/containers/cgroup-names.bpf.c), keyed by the cgroup v2 id
 * that record headers carry. It is filled in the kernel when a cgroup is created and when a container
 * task forks or execs, so it answers for a container whose cgroup is already gone, or that userspace
 * has not scanned yet: a container that lives 50 ms is still named by its runtime id.
 */
export class KernelCgroupNames {
  private obj: BpfObject | null;
  private readonly table: BpfMap<bigint, Buffer>;
  private readonly counters: BpfMap<number, bigint>;
  private lookups = 0;
  private containers = 0;

  private constructor(
    obj: BpfObject,
    readonly variant: string,
  ) {
    this.obj = obj;
    this.table = obj.map('bw_cgroup_names', codec.u64, codec.bytes(L.size));
    this.counters = obj.map('bw_cgroup_names_stats', codec.u32, codec.u64);
  }

  /**
   * Load and attach the variant the kernel supports. Throws ERR_NOT_SUPPORTED naming the missing
   * feature when none can run (callers fall back to cgroupfs scans and say so).
   */
  static open(features: FeatureReport, options: { maxEntries?: number } = {}): KernelCgroupNames {
    const { variant } = chooseVariant('cgroup-names', CGROUP_NAME_VARIANTS, features);
    const obj = BpfObject.open(OBJECT);
    try {
      const chosen = new Set(variant.programs);
      for (const v of CGROUP_NAME_VARIANTS) for (const p of v.programs) if (!chosen.has(p)) obj.setAutoload(p, false);
      if (options.maxEntries !== undefined) obj.setMaxEntries('bw_cgroup_names', options.maxEntries);
      obj.load();
      for (const p of variant.programs) obj.attach(p);
      return new KernelCgroupNames(obj, variant.name);
    } catch (err) {
      obj.close();
      throw err;
    }
  }

  /** What the kernel recorded for `cgroupId`, or null when it never saw that cgroup. */
  lookup(cgroupId: bigint): KernelCgroupName | null {
    if (!this.obj) return null;
    this.lookups++;
    let value: Buffer | undefined;
    try {
      value = this.table.lookup(cgroupId);
    } catch (err) {
      if (isBoxwatchError(err) && this.obj === null) return null;
      throw err;
    }
    if (!value) return null;
    const names: string[] = [];
    for (let i = 0; i < LEVELS; i++) names.push(nameAt(value, L.offsets.dfl + i * NAME_LEN));
    const v1 = nameAt(value, L.offsets.v1);
    const path = names.filter((n) => n !== '' && n !== '/').reverse().join('/');
    // The cgroup itself first, then its ancestors, then the v1 memory cgroup of a task seen in it.
    let containerId: string | null = null;
    let named = '';
    for (const n of [...names, v1]) {
      const id = n ? containerIdFromCgroupName(n) : null;
      if (id) {
        containerId = id;
        named = n;
        break;
      }
    }
    if (containerId) this.containers++;
    // cgroupfs-driver names (`docker/<id>`) carry the runtime in the parent's name, so ask with the path.
    const runtime = containerId ? runtimeFromCgroupName(path.includes(named) ? path : named) : undefined;
    return { containerId, ...(runtime ? { runtime } : {}), path, source: SOURCES[value.readUInt32LE(L.offsets.source)] ?? '' };
  }

  stats(): KernelCgroupNamesStats {
    let recorded = 0;
    let failed = 0;
    if (this.obj) {
      for (const v of this.counters.lookupPerCpu(0) ?? []) recorded += Number(v);
      for (const v of this.counters.lookupPerCpu(1) ?? []) failed += Number(v);
    }
    return { variant: this.variant, recorded, failed, lookups: this.lookups, containers: this.containers };
  }

  close(): void {
    this.obj?.close();
    this.obj = null;
  }
}
