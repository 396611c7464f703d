/**
 * Drains the in-kernel (cgroup, tgid, syscall) counters into `syscall.count` events.
 */
import { codec, createEvent, type BpfMap, type ContainerResolver, type IEvent, type KernelClock } from '@boxwatch/core';
import { sc_count_key as K, sc_count_value as V } from './generated/layout.js';
import type { SyscallTable } from './syscall-table.js';

export interface CountKey {
  cgroup_id: bigint;
  tgid: number;
  syscall: number;
}
export interface CountValue {
  count: number;
  comm: string;
}

export const countKeyCodec = codec.struct<CountKey>(K.size, {
  cgroup_id: [K.offsets.cgroup_id, codec.u64],
  tgid: [K.offsets.tgid, codec.u32],
  syscall: [K.offsets.syscall, codec.u32],
});

export const countValueCodec = codec.struct<CountValue>(V.size, {
  count: [V.offsets.count, codec.u64n],
  comm: [V.offsets.comm, codec.cstring(V.sizes.comm)],
});

export interface DrainResult {
  events: IEvent[];
  /** Keys taken out of the map (one per (cgroup, tgid, syscall) seen in the interval). */
  keys: number;
}

export class CounterDrainer {
  private lastDrain: bigint;

  constructor(
    private readonly map: BpfMap<CountKey, CountValue>,
    private readonly table: SyscallTable,
    private readonly host: string,
    private readonly clock: KernelClock,
    private readonly containers: ContainerResolver,
    /** tgid → comm as of the process's last exec (the kernel's proc_comm map). */
    private readonly procComm: BpfMap<number, string>,
  ) {
    this.lastDrain = clock.now();
  }

  /**
   * Take every counter out of the kernel map (atomic lookup-and-delete per batch, see the map's
   * comment in bpf/syscall.bpf.c) and build one event per key with the per-CPU counts summed.
   */
  drain(): DrainResult {
    const entries = this.map.drainBatch();
    const now = this.clock.now();
    const intervalMs = Number((now - this.lastDrain) / 1_000_000n);
    this.lastDrain = now;
    const time = this.clock.toDate(now);
    const events: IEvent[] = [];
    const commOf = new Map<number, string | undefined>();
    for (const [key, perCpu] of entries) {
      let count = 0;
      let slotComm = '';
      for (const slot of perCpu) {
        count += slot.count;
        if (!slotComm && slot.count > 0) slotComm = slot.comm;
      }
      if (count === 0) continue;
      if (!commOf.has(key.tgid)) commOf.set(key.tgid, this.procComm.lookup(key.tgid));
      // The comm after the process's last exec when we saw one, else the one at its first syscall.
      const comm = commOf.get(key.tgid) || slotComm;
      events.push(
        createEvent(
          'syscall.count',
          {
            time,
            ts: now,
            host: this.host,
            container: this.containers.byCgroupId(key.cgroup_id),
            cgroupId: key.cgroup_id,
            pid: key.tgid,
            tid: key.tgid,
            comm,
          },
          { syscall: { id: key.syscall, name: this.table.name(key.syscall) }, count, interval_ms: intervalMs },
        ),
      );
    }
    return { events, keys: entries.length };
  }
}
