/**
 * Which local container owns which IP address, read from the Docker API (dockerode): container
 * rules resolve to addresses through it and flow peers are named with it. Kept current by the
 * plugin from ctx.containers.onChange (start → refresh, stop → forget).
 */
import { statSync } from 'node:fs';
import Docker from 'dockerode';
import { canonicalAddress } from './address.js';

export interface ContainerRef {
  id: string;
  name: string;
}

interface Entry extends ContainerRef {
  ips: string[];
  /** Inode of the container's network namespace (null when it cannot be read). */
  netns: number | null;
}

/** Network namespace inode of a running container's main process, read from /proc. */
function netnsOf(info: Docker.ContainerInspectInfo): number | null {
  const pid = info.State?.Pid;
  if (!pid) return null;
  try {
    return statSync(`/proc/${pid}/ns/net`).ino;
  } catch {
    return null;
  }
}

interface NetworkLike {
  IPAddress?: string;
  GlobalIPv6Address?: string;
}

function addressesOf(networks: Record<string, NetworkLike> | undefined): string[] {
  const out = new Set<string>();
  for (const n of Object.values(networks ?? {})) {
    for (const raw of [n.IPAddress, n.GlobalIPv6Address]) {
      const c = raw ? canonicalAddress(raw) : null;
      if (c) out.add(c);
    }
  }
  return [...out];
}

export class ContainerIpIndex {
  private readonly byId = new Map<string, Entry>();
  private readonly byAddress = new Map<string, ContainerRef>();
  /**
   * Containers that stopped recently, by address. A flow is reported up to one drain interval
   * after its peer exited, and should still name it; rules never use these (the address may be
   * handed to the next container).
   */
  private readonly departed = new Map<string, { ref: ContainerRef; until: number }>();

  constructor(
    readonly docker: Docker,
    private readonly departedRetentionMs = 30_000,
  ) {}

  /** Reload every running container. */
  async refreshAll(): Promise<void> {
    const list = await this.docker.listContainers();
    // The list has no process id: the network namespace needs an inspect per container.
    const netns = await Promise.all(list.map((c) => this.docker.getContainer(c.Id).inspect().then(netnsOf, () => null)));
    this.byId.clear();
    list.forEach((c, i) => {
      const name = (c.Names?.[0] ?? '').replace(/^\//, '');
      this.byId.set(c.Id, { id: c.Id, name, ips: addressesOf(c.NetworkSettings?.Networks as Record<string, NetworkLike>), netns: netns[i] ?? null });
    });
    this.reindex();
  }

  /**
   * Re-read one container (by id or name). Returns its entry, or null when it does not exist or
   * is not running (then it is forgotten).
   */
  async refresh(idOrName: string): Promise<ContainerRef & { ips: string[]; netns: number | null } | null> {
    let info: Docker.ContainerInspectInfo;
    try {
      info = await this.docker.getContainer(idOrName).inspect();
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) {
        this.forget(idOrName);
        return null;
      }
      throw err;
    }
    if (!info.State?.Running) {
      this.forget(info.Id);
      return null;
    }
    const entry: Entry = {
      id: info.Id,
      name: info.Name.replace(/^\//, ''),
      ips: addressesOf(info.NetworkSettings?.Networks as Record<string, NetworkLike>),
      netns: netnsOf(info),
    };
    this.byId.set(info.Id, entry);
    this.reindex();
    return entry;
  }

  forget(idOrName: string): void {
    const e = this.lookup(idOrName);
    if (e) {
      this.byId.delete(e.id);
      const until = Date.now() + this.departedRetentionMs;
      for (const ip of e.ips) this.departed.set(ip, { ref: { id: e.id, name: e.name }, until });
      this.reindex();
    }
  }

  /** Known running container by full id, id prefix (12+ hex) or name. */
  lookup(idOrName: string): Entry | undefined {
    const key = idOrName.replace(/^\//, '');
    const direct = this.byId.get(key);
    if (direct) return direct;
    for (const e of this.byId.values()) {
      if (e.name === key || (key.length >= 12 && /^[0-9a-f]+$/.test(key) && e.id.startsWith(key))) return e;
    }
    return undefined;
  }

  /**
   * Network namespace inode of the running container owning an address (canonical text), or null
   * (no running container has it, or its namespace could not be read).
   */
  netnsOfAddress(address: string): number | null {
    const ref = this.byAddress.get(address);
    return ref ? (this.byId.get(ref.id)?.netns ?? null) : null;
  }

  /** Container owning an address (canonical text), or null. */
  containerOf(address: string): ContainerRef | null {
    const live = this.byAddress.get(address);
    if (live) return live;
    const gone = this.departed.get(address);
    if (!gone) return null;
    if (gone.until < Date.now()) {
      this.departed.delete(address);
      return null;
    }
    return gone.ref;
  }

  private reindex(): void {
    this.byAddress.clear();
    for (const e of this.byId.values()) {
      for (const ip of e.ips) {
        this.byAddress.set(ip, { id: e.id, name: e.name });
        this.departed.delete(ip); // reassigned to a running container
      }
    }
    const now = Date.now();
    for (const [ip, d] of this.departed) if (d.until < now) this.departed.delete(ip);
  }
}
