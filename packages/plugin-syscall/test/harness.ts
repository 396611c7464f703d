/**
 * Integration-test harness: a real PluginContext (probed kernel features, the Docker-backed
 * container registry, the kernel clock), an event sink that keeps what the plugin emits, and
 * docker helpers for the busybox test image.
 */
import { DockerContainerRegistry, silentLogger, type IEvent, type PluginContext } from '@boxwatch/core';
import { TEST_IMAGE, docker, ensureTestImage, testPluginContext } from '@boxwatch/core/testing';

export { docker, dockerExec } from '@boxwatch/core/testing';
export const IMAGE = TEST_IMAGE;

/** Builds the busybox test image if it is missing (the CI recipe). */
export const ensureImage = ensureTestImage;

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
  // The kernel's real probes; the Docker-backed registry as in production.
  const { ctx: base } = testPluginContext({ containers: registry, emit: (e) => void log.events.push(e), logger: silentLogger });
  const ctx: PluginContext = { ...base, fail: (err) => void log.failures.push(err) };
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
