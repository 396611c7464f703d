/**
 * Test harness: a PluginContext over the real kernel and dockerd (core's DockerContainerRegistry),
 * and helpers for the busybox test containers.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Docker from 'dockerode';
import { silentLogger, type ContainerResolver, type DockerContainerRegistry, type FeatureReport, type IEvent, type PluginContext } from '@boxwatch/core';
import { TEST_IMAGE, docker as dockerCli, ensureTestImage, startTestContainer, testPluginContext, type TestContainer } from '@boxwatch/core/testing';

export const IMAGE = TEST_IMAGE;
export const docker = new Docker();

/** Build the busybox test image exactly as CI does, if it is missing. */
export const ensureImage = ensureTestImage;

export const testName = (what: string) => `bwtest-net-${what}-${randomBytes(3).toString('hex')}`;

/**
 * A PluginContext with the kernel's real feature probes (the variant under test is the one users
 * get); failures reported by the plugin are collected in `failures`.
 */
export function makeContext(resolver: ContainerResolver, events: IEvent[], failures: unknown[] = [], features?: FeatureReport): PluginContext {
  const t = testPluginContext({ containers: resolver, emit: (e) => void events.push(e), logger: silentLogger, features });
  return { ...t.ctx, fail: (err) => void failures.push(err) };
}

export interface Started {
  id: string;
  name: string;
  ip: string;
  cgroupId: bigint;
}

/** Start a detached container running `sh -c script`; resolves once it runs, with its bridge IP. */
export async function runContainer(name: string, script: string): Promise<Started> {
  const c = await docker.createContainer({ name, Image: IMAGE, Cmd: ['sh', '-c', script], HostConfig: { AutoRemove: false } });
  await c.start();
  const i = await c.inspect();
  let cgroupId: bigint;
  try {
    cgroupId = BigInt(statSync(`/sys/fs/cgroup/unified/docker/${i.Id}`).ino);
  } catch (err) {
    const logs = (await c.logs({ stdout: true, stderr: true })).toString();
    throw new Error(`container ${name} (${script}) has no cgroup (state ${i.State.Status}, exit ${i.State.ExitCode}): ${logs}`, { cause: err });
  }
  return { id: i.Id, name, ip: i.NetworkSettings.IPAddress, cgroupId };
}

/** Wait for a container to exit; returns its exit code. */
export async function waitExit(id: string): Promise<number> {
  const r = (await docker.getContainer(id).wait()) as { StatusCode: number };
  return r.StatusCode;
}

export async function removeContainers(prefix = 'bwtest-net-'): Promise<void> {
  for (const c of await docker.listContainers({ all: true, filters: { name: [prefix] } })) {
    await docker.getContainer(c.Id).remove({ force: true }).catch(() => {});
  }
}

/** Poll until `check` is true (events arrive through a 10 ms ring-buffer drain timer). */
export async function until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/**
 * A static C test program for busybox containers (gcc -static, installed by scripts/setup.sh),
 * compiled once per source version: .cache/test-fixtures/<name>-<sha256 prefix>.
 */
export function buildStaticFixture(source: string, name: string): string {
  const hash = createHash('sha256').update(readFileSync(source)).digest('hex').slice(0, 16);
  const dir = join(ROOT, '.cache/test-fixtures');
  const bin = join(dir, `${name}-${hash}`);
  if (existsSync(bin)) return bin;
  mkdirSync(dir, { recursive: true });
  const tmp = `${bin}.tmp-${process.pid}`;
  execFileSync('gcc', ['-static', '-O2', '-Wall', '-Werror', '-pthread', '-o', tmp, source], { stdio: ['ignore', 'inherit', 'inherit'] });
  renameSync(tmp, bin);
  return bin;
}

/**
 * A server and a client container of the test image, each with a static fixture at `/<name>`,
 * both known to `resolver`; returns them in that order (pushed onto `containers` for cleanup).
 */
export async function fixturePair(resolver: DockerContainerRegistry, source: string, name: string, prefix: string, containers: TestContainer[]): Promise<[TestContainer, TestContainer]> {
  const fixture = buildStaticFixture(source, name);
  for (const role of ['s', 'c']) {
    const c = await startTestContainer({ prefix: `${prefix}-${role}` });
    containers.push(c);
    await dockerCli('cp', fixture, `${c.name}:/${name}`);
    await resolver.inspect(c.id);
  }
  return containers.slice(-2) as [TestContainer, TestContainer];
}
