/**
 * Keeps the kernel's `watched` cgroup-id map in step with the `watch` option: containers named in
 * it that are running now, and those that start later (ContainerResolver.onChange).
 */
import { codec, type BpfMap, type KnownContainer, type ContainerResolver, type Logger } from '@boxwatch/core';
import { sc_watch_value as W } from './generated/layout.js';

/** Value of the kernel's `watched` map (struct sc_watch_value): the container's sequence profile. */
export interface WatchValue {
  profile: number;
  slot: number;
  mode: number;
}

export const watchValueCodec = codec.struct<WatchValue>(W.size, {
  profile: [W.offsets.profile, codec.u32],
  slot: [W.offsets.slot, codec.u32],
  mode: [W.offsets.mode, codec.u32],
});

/** Decides the `watched` map value of a container and hears when it stops being watched. */
export interface WatchValueSource {
  valueFor(info: KnownContainer, cgroupId: bigint): WatchValue;
  removed(info: KnownContainer, cgroupId: bigint): void;
}

const PLAIN: WatchValueSource = { valueFor: () => ({ profile: 0, slot: 0, mode: 0 }), removed: () => undefined };

export class WatchedCgroups {
  private readonly cgroupOf = new Map<string, bigint>();
  /** Containers that matched but whose cgroup id the resolver could not give. */
  unresolved = 0;

  constructor(
    private readonly entries: readonly string[],
    private readonly map: BpfMap<bigint, WatchValue>,
    private readonly containers: ContainerResolver,
    private readonly logger: Logger,
    private readonly values: WatchValueSource = PLAIN,
  ) {}

  /** Does a container match one of the entries (full id, 12+ character id prefix, or name)? */
  matches(info: KnownContainer): boolean {
    const name = info.name?.replace(/^\//, '');
    return this.entries.some((e) => e === info.id || e === name || (e.length >= 12 && info.id.startsWith(e)));
  }

  /** Add every named container that is running now; returns the entries that matched nothing yet. */
  addRunning(): string[] {
    const pending: string[] = [];
    for (const entry of this.entries) {
      const info = this.containers.find(entry);
      if (info) this.add(info);
      else pending.push(entry);
    }
    for (const info of this.containers.list()) if (this.matches(info)) this.add(info);
    return pending;
  }

  add(info: KnownContainer): void {
    if (this.cgroupOf.has(info.id)) return;
    const cgroupId = this.containers.cgroupIdOf(info.id);
    if (cgroupId === null) {
      this.unresolved++;
      this.logger.warn({ plugin: 'syscall', container: info.id }, 'watched container has no known cgroup id; it is not watched');
      return;
    }
    this.map.update(cgroupId, this.values.valueFor(info, cgroupId));
    this.cgroupOf.set(info.id, cgroupId);
  }

  remove(info: KnownContainer): void {
    const cgroupId = this.cgroupOf.get(info.id);
    if (cgroupId === undefined) return;
    this.cgroupOf.delete(info.id);
    this.map.delete(cgroupId);
    this.values.removed(info, cgroupId);
  }

  get size(): number {
    return this.cgroupOf.size;
  }
}
