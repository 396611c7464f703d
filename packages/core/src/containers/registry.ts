import Docker from 'dockerode';
import { EventEmitter } from 'node:events';
import type { ContainerInfo } from '../event.js';
import type { FeatureReport } from '../features.js';
import type { ContainerDetails, ContainerResolver, KnownContainer } from '../plugin.js';
import { silentLogger, type Logger } from '../logger.js';
import { CgroupIndex } from './cgroup-index.js';
import { runtimeFromCgroupName } from './cgroup-name.js';
import { KernelCgroupNames, type KernelCgroupNamesStats } from './kernel-names.js';
import { probeFeatures } from '../probes.js';

export interface ContainerRegistryOptions {
  /** Docker Engine socket (default /var/run/docker.sock, or DOCKER_HOST). */
  socketPath?: string;
  logger?: Logger;
  /** How long a stopped container stays resolvable (late events of a dying container), ms. */
  stopGraceMs?: number;
  /** Minimum time between cgroup rescans triggered by unknown cgroup ids, ms. */
  rescanIntervalMs?: number;
  /**
   * Name containers from the kernel's cgroup-name table (default true): a cgroup id that the runtime
   * and cgroupfs cannot map (the container already exited, or was not scanned yet) is resolved from
   * the names the kernel recorded when the cgroup was created. `false` leaves only cgroupfs scans.
   */
  kernelNames?: boolean;
  /** Cgroups the kernel table holds (LRU; default 8192). */
  kernelNamesMaxEntries?: number;
}

export interface ContainerRegistryStats {
  /** Containers known (running, created, or stopped within the grace period). */
  known: number;
  running: number;
  /** The kernel's cgroup-name table, or why it is not in use. */
  kernelNames: KernelCgroupNamesStats | { unavailable: string };
  /** Cgroup ids resolved to a container by the kernel table (the runtime and cgroupfs did not know them yet or any more). */
  resolvedByKernel: number;
}

interface Entry extends ContainerDetails {
  stoppedAt?: number;
  /** Known only from its cgroup name so far (the runtime has not been asked yet). */
  bare?: boolean;
  /** Settles when the runtime answered for it (inspect done, or the container is gone). */
  named?: Promise<void>;
}

/** Runtime event attributes that are not labels (docker mixes labels into Actor.Attributes). */
const NON_LABEL_ATTRIBUTES = new Set(['name', 'image', 'exitCode', 'signal', 'execDuration']);

/** Canonical text of an IP address: v4-mapped IPv6 as IPv4, IPv6 expanded and lower-case. */
export function canonicalIp(ip: string): string {
  const v4mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (v4mapped) return v4mapped[1] as string;
  if (!ip.includes(':')) return ip;
  const [head, tail = ''] = ip.toLowerCase().split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const fill = ip.includes('::') ? new Array(Math.max(0, 8 - h.length - t.length)).fill('0') : [];
  return [...h, ...fill, ...t].map((g) => g.replace(/^0+(?=.)/, '')).join(':');
}

type Change = { kind: 'start' | 'stop'; container: KnownContainer };

/**
 * Container metadata from the Docker Engine API, keyed by the kernel's cgroup id. Lookups are
 * synchronous and cached; the cache follows the runtime's event stream. When no runtime socket is
 * reachable, events still resolve to the bare container id (from the cgroup name) and a single
 * warning is logged.
 */
export class DockerContainerRegistry implements ContainerResolver {
  private readonly docker: Docker;
  private readonly log: Logger;
  private readonly cgroups = new CgroupIndex();
  private readonly entries = new Map<string, Entry>();
  private readonly byCgroup = new Map<bigint, Entry>();
  private readonly notContainer = new Map<bigint, number>();
  private readonly changes = new EventEmitter();
  private readonly stopGraceMs: number;
  private readonly rescanIntervalMs: number;
  private lastRescan = 0;
  private runtimeReachable = false;
  private warned = false;
  private eventStream: NodeJS.ReadableStream | null = null;
  private closed = false;
  private readonly pendingInspect = new Map<string, Promise<void>>();
  private readonly useKernelNames: boolean;
  private readonly kernelNamesMaxEntries: number | undefined;
  private kernelNames: KernelCgroupNames | null = null;
  private kernelNamesUnavailable = 'not started';
  private resolvedByKernel = 0;
  /** Image references (tags, digests, ids) to image ids: a created container gets its image id at once. */
  private readonly imageIds = new Map<string, string>();
  private imagesRefresh: Promise<void> | null = null;

  constructor(options: ContainerRegistryOptions = {}) {
    this.docker = new Docker(options.socketPath ? { socketPath: options.socketPath } : undefined);
    this.log = options.logger ?? silentLogger;
    this.stopGraceMs = options.stopGraceMs ?? 30_000;
    this.rescanIntervalMs = options.rescanIntervalMs ?? 1_000;
    this.useKernelNames = options.kernelNames ?? true;
    this.kernelNamesMaxEntries = options.kernelNamesMaxEntries;
  }

  /**
   * Load the kernel's cgroup-name table, then running containers, and follow the runtime's events.
   * Never throws for a missing runtime; a kernel that cannot run the table is logged with the
   * feature it lacks (cgroupfs scans remain, which miss containers that exit before a scan).
   */
  async start(options: { features?: FeatureReport } = {}): Promise<void> {
    // The table first: every cgroup created from here on is named in the kernel, and those created
    // before are found by the scan below (they still exist) or by their tasks' next fork or exec.
    if (this.useKernelNames && !this.kernelNames) this.openKernelNames(options.features);
    this.cgroups.rescan();
    this.lastRescan = Date.now();
    try {
      const list = await this.docker.listContainers();
      this.runtimeReachable = true;
      await this.refreshImages();
      await Promise.all(list.map((c) => this.inspect(c.Id)));
      await this.followEvents();
    } catch (err) {
      this.warnUnreachable(err);
    }
  }

  private openKernelNames(features: FeatureReport | undefined): void {
    try {
      const report = features ?? probeFeatures();
      this.kernelNames = KernelCgroupNames.open(report, { maxEntries: this.kernelNamesMaxEntries });
      this.log.info({ variant: this.kernelNames.variant }, 'kernel cgroup-name table loaded');
    } catch (err) {
      this.kernelNamesUnavailable = (err as Error).message;
      this.log.warn(
        { err: this.kernelNamesUnavailable },
        'kernel cgroup-name table unavailable: containers that exit before a cgroupfs scan are reported without an id',
      );
    }
  }

  get reachable(): boolean {
    return this.runtimeReachable;
  }

  stats(): ContainerRegistryStats {
    let running = 0;
    for (const e of this.entries.values()) if (e.running) running++;
    return {
      known: this.entries.size,
      running,
      kernelNames: this.kernelNames ? this.kernelNames.stats() : { unavailable: this.kernelNamesUnavailable },
      resolvedByKernel: this.resolvedByKernel,
    };
  }

  private warnUnreachable(err: unknown): void {
    this.runtimeReachable = false;
    if (this.warned) return;
    this.warned = true;
    this.log.warn({ err: (err as Error).message }, 'container runtime API not reachable: events carry bare container ids without names or images');
  }

  private async followEvents(): Promise<void> {
    const stream = (await this.docker.getEvents({ filters: { type: ['container'], event: ['create', 'start', 'die', 'destroy', 'rename'] } })) as NodeJS.ReadableStream;
    this.eventStream = stream;
    let buf = '';
    stream.on('data', (chunk: Buffer) => {
      buf += chunk.toString('utf8');
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.trim()) this.onRuntimeEvent(line);
      }
    });
    stream.on('error', (err) => {
      if (!this.closed) this.log.warn({ err: err.message }, 'container runtime event stream failed');
    });
  }

  private onRuntimeEvent(line: string): void {
    let ev: { Action?: string; status?: string; id?: string; Actor?: { ID?: string; Attributes?: Record<string, string> } };
    try {
      ev = JSON.parse(line);
    } catch {
      return;
    }
    const id = ev.Actor?.ID ?? ev.id;
    const action = ev.Action ?? ev.status;
    if (!id) return;
    if (action === 'create') {
      this.onCreate(id, ev.Actor?.Attributes ?? {});
      void this.inspect(id);
    } else if (action === 'start' || action === 'rename') {
      void this.inspect(id);
    } else if (action === 'die' || action === 'destroy') {
      this.markStopped(id);
    }
  }

  /**
   * A container was created: its name, image and labels are in the event itself, so they are known
   * before its entrypoint runs (and after it is gone, for a grace period) even when the inspection
   * that follows loses the race with `docker run --rm`.
   */
  private onCreate(id: string, attributes: Record<string, string>): void {
    const labels: Record<string, string> = {};
    for (const [k, v] of Object.entries(attributes)) if (!NON_LABEL_ATTRIBUTES.has(k)) labels[k] = v;
    const image = attributes.image;
    // The image id keys the learned models: give it now, as the inspection would, when the image is known.
    const imageId = image ? this.imageIds.get(image) : undefined;
    if (image && !imageId) void this.refreshImages().then(() => this.fillImageId(id, image));
    const info: KnownContainer = { id, ...(attributes.name ? { name: attributes.name } : {}), ...(image ? { image } : {}), ...(imageId ? { imageId } : {}), labels, runtime: 'docker' };
    const existing = this.entries.get(id);
    if (existing) {
      // Seen in the kernel first: fill the shared object in place (events already emitted hold it).
      if (!existing.info.name) Object.assign(existing.info, info);
    } else {
      this.entries.set(id, { info, pid: 0, ips: [], cgroupId: null, running: false });
    }
    this.changes.emit('create', this.entries.get(id)!.info);
  }

  /** Inspect one container and (re)index it; deduplicates concurrent inspections. */
  /** Image references → ids, from the runtime's image list (one refresh at a time). */
  private refreshImages(): Promise<void> {
    this.imagesRefresh ??= (async () => {
      try {
        for (const img of await this.docker.listImages()) {
          this.imageIds.set(img.Id, img.Id);
          for (const ref of [...(img.RepoTags ?? []), ...(img.RepoDigests ?? [])]) {
            this.imageIds.set(ref, img.Id);
            // `docker run busybox` names the image without the implied tag.
            if (ref.endsWith(':latest')) this.imageIds.set(ref.slice(0, -':latest'.length), img.Id);
          }
        }
      } catch (err) {
        this.log.debug({ err: (err as Error).message }, 'cannot list images');
      } finally {
        this.imagesRefresh = null;
      }
    })();
    return this.imagesRefresh;
  }

  private fillImageId(id: string, image: string): void {
    const entry = this.entries.get(id);
    const imageId = this.imageIds.get(image);
    if (entry && imageId && entry.info.imageId === undefined) entry.info.imageId = imageId;
  }

  inspect(id: string): Promise<void> {
    const pending = this.pendingInspect.get(id);
    if (pending) return pending;
    const p = this.doInspect(id).finally(() => this.pendingInspect.delete(id));
    this.pendingInspect.set(id, p);
    return p;
  }

  /**
   * Settles when the name of `container` is known or cannot become known (the runtime answered, or
   * the container is gone), at most `timeoutMs` later; null when nothing is pending (the name is
   * known, or nobody is asking the runtime). For alerts only: events are never held.
   */
  whenNamed(container: ContainerInfo, timeoutMs: number): Promise<void> | null {
    if (container.name || container.id === null) return null;
    const pending = this.pendingInspect.get(container.id);
    if (!pending) return null;
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      timer.unref();
      void pending.then(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private async doInspect(id: string): Promise<void> {
    let data: Docker.ContainerInspectInfo;
    try {
      data = await this.docker.getContainer(id).inspect();
      this.runtimeReachable = true;
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) return;
      this.warnUnreachable(err);
      return;
    }
    const info: KnownContainer = {
      id: data.Id,
      name: data.Name.replace(/^\//, ''),
      image: data.Config?.Image,
      imageId: data.Image,
      labels: data.Config?.Labels ?? {},
      runtime: 'docker',
    };
    if (data.Config?.Image && data.Image) this.imageIds.set(data.Config.Image, data.Image);
    const ips: string[] = [];
    for (const net of Object.values(data.NetworkSettings?.Networks ?? {})) {
      if (net.IPAddress) ips.push(net.IPAddress);
      if (net.GlobalIPv6Address) ips.push(net.GlobalIPv6Address);
    }
    const running = data.State?.Running === true;
    const pid = data.State?.Pid ?? 0;
    let cgroupId = this.cgroups.cgroupIdOf(data.Id);
    if (cgroupId === null && pid > 0) cgroupId = this.cgroups.cgroupIdOfPid(pid);
    if (cgroupId === null && running) {
      this.cgroups.rescan();
      cgroupId = this.cgroups.cgroupIdOf(data.Id);
    }
    const existing = this.entries.get(data.Id);
    // Events emitted before the inspection finished hold the bare-id object: fill it in place so
    // those not yet serialised get the name and image too.
    if (existing) Object.assign(existing.info, info);
    // A cgroup the kernel table resolved before the runtime answered (an exited container's is gone
    // from cgroupfs) stays linked.
    cgroupId ??= existing?.cgroupId ?? null;
    const entry: Entry = { info: existing?.info ?? info, pid, ips, cgroupId, running };
    this.entries.set(data.Id, entry);
    if (cgroupId !== null) {
      this.byCgroup.set(cgroupId, entry);
      this.notContainer.delete(cgroupId);
    }
    if (running && (!existing || !existing.running || existing.bare)) this.changes.emit('change', { kind: 'start', container: entry.info } satisfies Change);
    if (!running && existing?.running) this.markStopped(data.Id);
    // Inspected after it exited (`docker run --rm` that acted at once): keep it for the grace period.
    if (!running && !existing?.running && data.State?.FinishedAt && !data.State.FinishedAt.startsWith('0001-')) this.markStopped(data.Id, true);
  }

  private markStopped(id: string, quiet = false): void {
    const entry = this.entries.get(id);
    if (!entry || entry.stoppedAt) return;
    const wasRunning = entry.running;
    entry.running = false;
    entry.stoppedAt = Date.now();
    if (wasRunning && !quiet) this.changes.emit('change', { kind: 'stop', container: entry.info } satisfies Change);
    setTimeout(() => this.forget(id), this.stopGraceMs).unref();
  }

  private forget(id: string): void {
    const entry = this.entries.get(id);
    if (!entry || entry.running) return;
    this.entries.delete(id);
    if (entry.cgroupId !== null && this.byCgroup.get(entry.cgroupId) === entry) this.byCgroup.delete(entry.cgroupId);
  }

  byCgroupId(cgroupId: bigint): KnownContainer | null {
    const hit = this.byCgroup.get(cgroupId);
    if (hit) return hit.info;
    return this.resolveUnknown(cgroupId);
  }

  /**
   * A cgroup we have not seen: ask the kernel's cgroup-name table (it recorded the cgroup when it was
   * created, so it answers even for a container that is already gone), then the cgroup tree
   * (rescanned at most every rescanIntervalMs). A container id found links the cgroup to what the
   * runtime's `create` event told (name, image, labels) or to a bare entry whose metadata is fetched
   * in the background. Cgroups that are no container are remembered for 10 s: the kernel table named
   * every cgroup created since load, so a miss does not turn into a container later.
   */
  private resolveUnknown(cgroupId: bigint): KnownContainer | null {
    const negative = this.notContainer.get(cgroupId);
    const now = Date.now();
    if (negative !== undefined && now - negative < 10_000) return null;
    const kernel = this.kernelNames?.lookup(cgroupId) ?? null;
    let id = kernel?.containerId ?? null;
    let runtime = kernel?.runtime;
    if (id) this.resolvedByKernel++;
    else {
      if (now - this.lastRescan >= this.rescanIntervalMs) {
        this.cgroups.rescan();
        this.lastRescan = now;
      }
      id = this.cgroups.containerOf(cgroupId);
      runtime = runtimeFromCgroupName(`docker/${id}`);
    }
    if (!id) {
      this.notContainer.set(cgroupId, now);
      return null;
    }
    const known = this.entries.get(id);
    if (known) {
      known.cgroupId ??= cgroupId;
      this.byCgroup.set(cgroupId, known);
      return known.info;
    }
    const entry: Entry = { info: { id, ...(runtime ? { runtime } : {}) }, pid: 0, ips: [], cgroupId, running: true, bare: true };
    this.entries.set(id, entry);
    this.byCgroup.set(cgroupId, entry);
    if (!this.closed) void this.inspect(id);
    return entry.info;
  }

  find(idOrName: string): KnownContainer | null {
    return this.findEntry(idOrName)?.info ?? null;
  }

  private findEntry(idOrName: string): Entry | null {
    const key = idOrName.replace(/^\//, '');
    const exact = this.entries.get(key);
    if (exact) return exact;
    let prefixHit: Entry | null = null;
    for (const e of this.entries.values()) {
      if (e.info.name === key) return e;
      if (key.length >= 12 && /^[0-9a-f]+$/.test(key) && e.info.id.startsWith(key)) prefixHit = e;
    }
    return prefixHit;
  }

  list(): KnownContainer[] {
    return [...this.entries.values()].filter((e) => e.running).map((e) => e.info);
  }

  details(idOrName: string): ContainerDetails | null {
    const e = this.findEntry(idOrName);
    return e ? { info: e.info, pid: e.pid, ips: [...e.ips], cgroupId: e.cgroupId, running: e.running } : null;
  }

  /**
   * The container owning an address. Running containers win over stopped ones still in their grace
   * period (docker reuses addresses quickly); addresses compare in canonical form, so `::ffff:a.b.c.d`
   * and differently written IPv6 match.
   */
  byIp(ip: string): KnownContainer | null {
    const want = canonicalIp(ip);
    let stopped: KnownContainer | null = null;
    for (const e of this.entries.values()) {
      if (!e.ips.some((x) => canonicalIp(x) === want)) continue;
      if (e.running) return e.info;
      stopped ??= e.info;
    }
    return stopped;
  }

  cgroupIdOf(containerId: string): bigint | null {
    return this.findEntry(containerId)?.cgroupId ?? null;
  }

  onChange(listener: (change: Change) => void): () => void {
    this.changes.on('change', listener);
    return () => this.changes.off('change', listener);
  }

  onCreated(listener: (container: KnownContainer) => void): () => void {
    this.changes.on('create', listener);
    return () => this.changes.off('create', listener);
  }

  close(): void {
    this.closed = true;
    this.kernelNames?.close();
    this.kernelNames = null;
    this.kernelNamesUnavailable = 'closed';
    const s = this.eventStream as (NodeJS.ReadableStream & { destroy?: () => void }) | null;
    s?.destroy?.();
    this.eventStream = null;
    this.changes.removeAllListeners();
  }
}
