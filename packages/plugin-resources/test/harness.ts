/**
 * Test harness: a PluginContext over a fixed list of containers (so tests see only the containers
 * they started, not other engineers'), a logger that keeps warnings, and docker helpers.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtemp, mkdir, rm, symlink, copyFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  ALL_FEATURES,
  KernelClock,
  type ContainerInfo,
  type ContainerResolver,
  type FeatureReport,
  type IEvent,
  type Logger,
  type PluginContext,
} from '@boxwatch/core';

const run = promisify(execFile);

export async function docker(...args: string[]): Promise<string> {
  const { stdout } = await run('docker', args, { maxBuffer: 16 << 20 });
  return stdout.trim();
}

export const IMAGE = 'boxwatch-test/busybox:latest';

/** Builds the busybox test image if it is missing (same recipe as CI). */
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
    // `busybox --list` names busybox itself: linking it would replace the binary with a self-loop.
    for (const applet of stdout.split('\n').filter((a) => a && a !== 'busybox')) {
      await symlink('busybox', path.join(dir, 'bin', applet));
    }
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
  pid: number;
  info: ContainerInfo;
}

export function testName(role: string): string {
  return `bwtest-res-${role}-${Math.random().toString(36).slice(2, 8)}`;
}

/** `docker run -d` and inspect. `runArgs` go before the image, `cmd` after. */
export async function startContainer(role: string, cmd: string[], runArgs: string[] = []): Promise<TestContainer> {
  const name = testName(role);
  const id = await docker('run', '-d', '--name', name, ...runArgs, IMAGE, ...cmd);
  const pid = Number(await docker('inspect', '-f', '{{.State.Pid}}', id));
  return { id, name, pid, info: { id, name, image: IMAGE, labels: {} } };
}

export async function removeContainers(containers: readonly { name: string }[]): Promise<void> {
  if (containers.length === 0) return;
  await docker('rm', '-f', ...containers.map((c) => c.name)).catch(() => undefined);
}

type Change = { kind: 'start' | 'stop'; container: ContainerInfo };

/**
 * A resolver that always lists the given containers, even after they are removed (as a resolver
 * that has not caught up would), and knows no details, so the plugin asks Docker for init pids.
 */
export function staticResolver(containers: ContainerInfo[]): ContainerResolver & { emitChange(change: Change): void } {
  const listeners = new Set<(change: Change) => void>();
  return {
    byCgroupId: () => null,
    find: (idOrName) => containers.find((c) => c.id.startsWith(idOrName) || c.name === idOrName) ?? null,
    list: () => containers,
    details: () => null,
    byIp: () => null,
    cgroupIdOf: () => null,
    onChange(listener) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
    emitChange(change) {
      for (const l of listeners) l(change);
    },
  };
}

/** Keeps every warn/error so tests can assert that nothing went wrong quietly. */
export class RecordingLogger implements Logger {
  readonly problems: { level: string; obj: unknown; msg?: string }[] = [];
  debug(): void {}
  info(): void {}
  warn(obj: object | string, msg?: string): void {
    this.problems.push({ level: 'warn', obj, msg });
  }
  error(obj: object | string, msg?: string): void {
    this.problems.push({ level: 'error', obj, msg });
  }
  child(): Logger {
    return this;
  }
}

export function makeContext(containers: ContainerResolver, onEvent: (e: IEvent) => void, logger: Logger = new RecordingLogger()): PluginContext {
  const features = Object.fromEntries(ALL_FEATURES.map((f) => [f, { status: 'inconclusive', detail: 'not probed in this test' }])) as FeatureReport;
  return {
    host: 'test-host',
    features,
    containers,
    clock: new KernelClock(),
    logger,
    emit: onEvent,
    fail: (error) => logger.error({ err: error }, 'plugin reported failure'),
  };
}

/** Every event a plugin emitted, with a way to wait for the ones a test needs. */
export class EventLog {
  readonly events: IEvent[] = [];
  private waiters: { pred: (e: IEvent) => boolean; count: number; resolve: (events: IEvent[]) => void }[] = [];

  readonly push = (e: IEvent): void => {
    this.events.push(e);
    this.waiters = this.waiters.filter((w) => {
      const matching = this.events.filter(w.pred);
      if (matching.length < w.count) return true;
      w.resolve(matching);
      return false;
    });
  };

  /** Resolves once `count` matching events have been emitted (vitest's timeout bounds the wait). */
  waitFor(pred: (e: IEvent) => boolean, count = 1): Promise<IEvent[]> {
    const matching = this.events.filter(pred);
    if (matching.length >= count) return Promise.resolve(matching);
    return new Promise((resolve) => this.waiters.push({ pred, count, resolve }));
  }

  of(containerId: string): IEvent[] {
    return this.events.filter((e) => e.container?.id === containerId);
  }
}
