/**
 * Test harness: a PluginContext over the real kernel and dockerd (core's DockerContainerRegistry),
 * and helpers for the busybox test containers.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import Docker from 'dockerode';
import { KernelClock, silentLogger, ALL_FEATURES, type ContainerResolver, type FeatureReport, type IEvent, type PluginContext } from '@boxwatch/core';

export const IMAGE = 'boxwatch-test/busybox:latest';
export const docker = new Docker();

/** Build the busybox test image exactly as CI does, if it is missing. */
export function ensureImage(): void {
  try {
    execFileSync('docker', ['image', 'inspect', IMAGE], { stdio: 'ignore' });
    return;
  } catch {}
  const d = mkdtempSync(join(tmpdir(), 'bwimg-'));
  execFileSync('sh', ['-c', `mkdir -p ${d}/bin && cp /bin/busybox ${d}/bin/ && for a in $(/bin/busybox --list); do ln -sf busybox ${d}/bin/$a; done; mkdir -p ${d}/etc ${d}/tmp ${d}/root; echo 'root:x:0:0:root:/root:/bin/sh' > ${d}/etc/passwd; echo 'root:*:19000:0:99999:7:::' > ${d}/etc/shadow; tar -C ${d} -c . | docker import - ${IMAGE}`]);
}

export const testName = (what: string) => `bwtest-net-${what}-${randomBytes(3).toString('hex')}`;

/** Features of this machine (DESIGN.md §4), stated rather than probed until core's probeFeatures() lands. */
export function machineFeatures(overrides: Partial<Record<string, 'supported' | 'unsupported'>> = {}): FeatureReport {
  const unsupported = new Set(['kprobe', 'kprobe_multi', 'fentry']);
  const out = {} as FeatureReport;
  for (const f of ALL_FEATURES) {
    const status = overrides[f] ?? (unsupported.has(f) ? 'unsupported' : 'supported');
    out[f] = { status, detail: 'test harness (DESIGN.md §4)' };
  }
  return out;
}

/** A PluginContext over core's real container registry; failures reported by the plugin are collected in `failures`. */
export function makeContext(resolver: ContainerResolver, events: IEvent[], failures: unknown[] = [], features = machineFeatures()): PluginContext {
  return {
    host: 'test-host',
    features,
    containers: resolver,
    clock: new KernelClock(),
    logger: silentLogger,
    emit: (e) => void events.push(e),
    fail: (err) => void failures.push(err),
  };
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
