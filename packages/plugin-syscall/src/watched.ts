/**
 * Keeps the kernel's `watched` cgroup-id map in step with the `watch` option: containers named in
 * it that are running now, and those that start later (ContainerResolver.onChange).
 */
import type { BpfMap, ContainerInfo, ContainerResolver, Logger } from '@boxwatch/core';

export class WatchedCgroups {
  private readonly cgroupOf = new Map<string, bigint>();
  /** Containers that matched but whose cgroup id the resolver could not give. */
  unresolved = 0;

  constructor(
    private readonly entries: readonly string[],
    private readonly map: BpfMap<bigint, number>,
    private readonly containers: ContainerResolver,
    private readonly logger: Logger,
  ) {}

  /** Does a container match one of the entries (full id, 12+ character id prefix, or name)? */
  matches(info: ContainerInfo): boolean {
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

  add(info: ContainerInfo): void {
    if (this.cgroupOf.has(info.id)) return;
    const cgroupId = this.containers.cgroupIdOf(info.id);
    if (cgroupId === null) {
      this.unresolved++;
      this.logger.warn({ plugin: 'syscall', container: info.id }, 'watched container has no known cgroup id; it is not watched');
      return;
    }
    this.map.update(cgroupId, 1);
    this.cgroupOf.set(info.id, cgroupId);
  }

  remove(info: ContainerInfo): void {
    const cgroupId = this.cgroupOf.get(info.id);
    if (cgroupId === undefined) return;
    this.cgroupOf.delete(info.id);
    this.map.delete(cgroupId);
  }

  get size(): number {
    return this.cgroupOf.size;
  }
}
