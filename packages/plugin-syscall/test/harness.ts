/**
 * Integration-test harness: a real PluginContext (probed kernel features, the Docker-backed
 * container registry, the kernel clock), an event sink that keeps what the plugin emits, and
 * docker helpers for the busybox test image.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtemp, mkdir, rm, symlink, copyFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DockerContainerRegistry, KernelClock, probeFeatures, silentLogger, type IEvent, type PluginContext } from '@boxwatch/core';

const run = promisify(execFile);

export const IMAGE = 'boxwatch-test/busybox:latest';

export async function docker(...args: string[]): Promise<string> {
  const { stdout } = await run('docker', args, { maxBuffer: 16 << 20 });
  return stdout.trim();
}

/** `docker exec` that does not throw on a non-zero exit (some tests expect failures). */
export async function dockerExec(container: string, ...cmd: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run('docker', ['exec', container, ...cmd], { maxBuffer: 16 << 20 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

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
}

export function containerName(role: string): string {
  return `bwtest-syscall-${role}-${Math.random().toString(36).slice(2, 8)}`;
}

export async function startContainer(role: string, name = containerName(role)): Promise<TestContainer> {
  const id = await docker('run', '-d', '--name', name, IMAGE, 'sleep', '3600');
  return { id, name };
}

export async function removeContainers(containers: readonly TestContainer[]): Promise<void> {
  if (containers.length > 0) await docker('rm', '-f', ...containers.map((c) => c.name)).catch(() => undefined);
}

/** Collects what a plugin emits. */
export class EventLog {
  readonly events: IEvent[] = [];
  /** Failures the plugin reported through ctx.fail (a test asserts there are none). */
  readonly failures: unknown[] = [];
  of<T = Record<string, unknown>>(type: string, filter: (e: IEvent & T) => boolean = () => true): Array<IEvent & T> {
    return this.events.filter((e) => e.type === type && filter(e as IEvent & T)) as Array<IEvent & T>;
  }
  clear(): void {
    this.events.length = 0;
  }
}

export interface Harness {
  ctx: PluginContext;
  log: EventLog;
  registry: DockerContainerRegistry;
}

export async function harness(): Promise<Harness> {
  const registry = new DockerContainerRegistry();
  await registry.start();
  const log = new EventLog();
  const ctx: PluginContext = {
    host: 'test-host',
    features: probeFeatures(),
    containers: registry,
    clock: new KernelClock(),
    logger: silentLogger,
    emit: (e) => void log.events.push(e),
    fail: (err) => void log.failures.push(err),
  };
  return { ctx, log, registry };
}

/** Poll until `check` returns a value (not a timing assertion: the deadline only bounds a hang). */
export async function waitFor<T>(what: string, check: () => T | undefined | null | false, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
