import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { KnownContainer } from '../plugin.js';
import { findCgroup2Root } from '../containers/cgroup-index.js';
import { docker } from './docker.js';
import { TEST_IMAGE } from './image.js';

export interface TestContainer {
  id: string;
  name: string;
  /** Host pid of the container's init process. */
  pid: number;
  /** The kernel's container key (cgroup v2 id) of the container's processes. */
  cgroupId: bigint;
  /** Address on the default bridge ('' with --network none/host). */
  ip: string;
  info: KnownContainer;
}

export interface StartOptions {
  /** Name prefix, e.g. `bwtest-fileopen`; a random suffix is added. */
  prefix: string;
  /** Command run in the container (default: sleep for an hour). */
  cmd?: string[];
  /** `docker run` arguments before the image. */
  runArgs?: string[];
  image?: string;
}

export function testContainerName(prefix: string): string {
  return `${prefix}-${Math.random().toString(36).slice(2, 8)}`;
}

/** cgroup v2 id of a process: the inode of its cgroup directory (what bpf_get_current_cgroup_id returns). */
function cgroupIdOfPid(pid: number): bigint {
  const root = findCgroup2Root();
  const line = readFileSync(`/proc/${pid}/cgroup`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('0::'));
  if (!root || !line) throw new Error(`no cgroup v2 path for pid ${pid}`);
  return statSync(join(root, line.slice(3)), { bigint: true }).ino;
}

/** `docker run -d` a test container and inspect what tests need about it. */
export async function startTestContainer(options: StartOptions): Promise<TestContainer> {
  const name = testContainerName(options.prefix);
  const image = options.image ?? TEST_IMAGE;
  const id = await docker('run', '-d', '--name', name, ...(options.runArgs ?? []), image, ...(options.cmd ?? ['sleep', '3600']));
  const [pid, ip] = (await docker('inspect', '-f', '{{.State.Pid}} {{.NetworkSettings.IPAddress}}', id)).split(' ');
  return { id, name, pid: Number(pid), ip: ip ?? '', cgroupId: cgroupIdOfPid(Number(pid)), info: { id, name, image, labels: {} } };
}

export async function removeTestContainers(containers: ReadonlyArray<{ name: string }>): Promise<void> {
  if (containers.length > 0) await docker('rm', '-f', ...containers.map((c) => c.name)).catch(() => undefined);
}
