/**
 * Test harness: a PluginContext with the kernel's real feature probes and a resolver that knows
 * only the containers a test started, so other engineers' containers on the same dockerd never
 * match; docker helpers; waiting for events.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { statSync } from 'node:fs';
import { mkdtemp, mkdir, rm, symlink, copyFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  KernelClock,
  probeFeatures,
  silentLogger,
  type ContainerInfo,
  type ContainerResolver,
  type IEvent,
  type PluginContext,
} from '@boxwatch/core';

const run = promisify(execFile);

export async function docker(...args: string[]): Promise<string> {
  const { stdout } = await run('docker', args, { maxBuffer: 16 << 20 });
  return stdout.trim();
}

export const IMAGE = 'boxwatch-test/busybox:latest';

/** Builds the busybox test image if it is missing (the CI recipe). */
export async function ensureImage(): Promise<void> {
  try {
    await docker('image', 'inspect', IMAGE);
    return;
  } catch {
    /* build it */
  }
  const dir = await mkdtemp(path.join(tmpdir(), 'bw-busybox-'));
  try {
    await mkdir(path.join(dir, 'bin'));
    await copyFile('/bin/busybox', path.join(dir, 'bin/busybox'));
    const { stdout } = await run('/bin/busybox', ['--list']);
    for (const applet of stdout.split('\n').filter((a) => a && a !== 'busybox')) await symlink('busybox', path.join(dir, 'bin', applet));
    for (const d of ['etc', 'tmp', 'root']) await mkdir(path.join(dir, d));
    await writeFile(path.join(dir, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
    await writeFile(path.join(dir, 'etc/shadow'), 'root:*:19000:0:99999:7:::\n');
    await run('sh', ['-c', `tar -C '${dir}' -c . | docker import - ${IMAGE}`]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export interface TestContainer {
  id: string;
  name: string;
  cgroupId: bigint;
  info: ContainerInfo;
}

/** The kernel's cgroup id of a docker container: the inode of its cgroup2 directory. */
export function cgroupIdOf(containerId: string): bigint {
  return statSync(`/sys/fs/cgroup/unified/docker/${containerId}`, { bigint: true }).ino;
}

export async function startContainer(): Promise<TestContainer> {
  const name = `bwtest-fileopen-${Math.random().toString(36).slice(2, 8)}`;
  const id = await docker('run', '-d', '--name', name, IMAGE, 'sleep', '3600');
  return { id, name, cgroupId: cgroupIdOf(id), info: { id, name, image: IMAGE, labels: {} } };
}

export async function removeContainers(containers: readonly { name: string }[]): Promise<void> {
  if (containers.length > 0) await docker('rm', '-f', ...containers.map((c) => c.name)).catch(() => undefined);
}

/** `docker exec <c> sh -c <script>`; returns stdout. */
export async function sh(c: TestContainer, script: string): Promise<string> {
  return docker('exec', c.name, 'sh', '-c', script);
}

/** A resolver over a fixed list of containers. */
export function fixedResolver(containers: () => readonly TestContainer[]): ContainerResolver {
  return {
    byCgroupId: (id) => containers().find((c) => c.cgroupId === id)?.info ?? null,
    find: (ref) => containers().find((c) => c.id === ref || c.name === ref || (ref.length >= 12 && c.id.startsWith(ref)))?.info ?? null,
    list: () => containers().map((c) => c.info),
    details: (ref) => {
      const c = containers().find((x) => x.id === ref || x.name === ref || (ref.length >= 12 && x.id.startsWith(ref)));
      return c ? { info: c.info, pid: 0, ips: [], cgroupId: c.cgroupId, running: true } : null;
    },
    byIp: () => null,
    cgroupIdOf: (id) => containers().find((c) => c.id === id)?.cgroupId ?? null,
    onChange: () => () => undefined,
  };
}

export interface Capture {
  ctx: PluginContext;
  events: IEvent[];
  /** Errors the plugin reported through ctx.fail (tests expect none). */
  failures: unknown[];
}

export function captureContext(containers: () => readonly TestContainer[]): Capture {
  const events: IEvent[] = [];
  const failures: unknown[] = [];
  const ctx: PluginContext = {
    host: 'test-host',
    // The real probes of this kernel: the variant choice under test is the one users get.
    features: probeFeatures(),
    containers: fixedResolver(containers),
    clock: new KernelClock(),
    logger: silentLogger,
    emit: (e) => void events.push(e),
    fail: (err) => void failures.push(err),
  };
  return { ctx, events, failures };
}

/** Wait until `pred` holds for some event (the ring is drained by the plugin's timer). */
export async function waitFor<E extends IEvent>(events: readonly IEvent[], pred: (e: IEvent) => boolean, what: string, timeoutMs = 15_000): Promise<E> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const hit = events.find(pred);
    if (hit) return hit as E;
    if (Date.now() > deadline) throw new Error(`no event ${what} within ${timeoutMs} ms (have ${events.length} events)`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
