import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeHeader, DockerContainerRegistry, findCgroup2Root, KernelCgroupNames, KernelClock, probeFeatures, type EventHeader } from '@boxwatch/core';
import { loadTestObject } from '../helpers/test-object.js';
import { TEST_IMAGE } from '../helpers/docker.js';

// Containers here exit before anyone could scan cgroupfs for them: the kernel's name table and the
// runtime's `create` event are all that is left to name them by the time their records are decoded.
const features = probeFeatures();
const registry = new DockerContainerRegistry();
const tag = randomBytes(3).toString('hex');

beforeAll(async () => {
  await registry.start({ features });
});

afterAll(() => registry.close());

/** Run `cmd` in a `docker run --rm` container that acts at once and exits; resolves with its id. */
function runAndExit(name: string, cmd: string): string {
  // --cidfile: the id without waiting for anything; the container is gone when docker returns.
  const cidfile = `/tmp/${name}.cid`;
  execFileSync('docker', ['run', '--rm', '--network', 'none', '--cidfile', cidfile, '--name', name, TEST_IMAGE, 'sh', '-c', cmd]);
  const id = execFileSync('cat', [cidfile]).toString().trim();
  execFileSync('rm', ['-f', cidfile]);
  return id;
}

describe('kernel cgroup-name table', () => {
  it('names a container that exited (cgroup removed) before its records were decoded, with the name from its create event', async () => {
    const obj = loadTestObject({ include_containers: true });
    const raw: Buffer[] = [];
    // Keep the records' bytes and decode them only after the container is gone.
    const rb = obj.ringBuffer('events', (v, off, len) => void raw.push(Buffer.from(new Uint8Array(v.buffer, v.byteOffset + off, len))));
    const name = `bwtest-kn-${tag}-a`;
    let id = '';
    try {
      // busybox sh calls getppid at start: the nested `sh -c` makes records from inside the container.
      id = runAndExit(name, 'sh -c true; sh -c true');
      await new Promise((r) => setTimeout(r, 50));
      rb.drain();
    } finally {
      obj.close();
    }
    expect(() => execFileSync('docker', ['inspect', name], { stdio: 'ignore' })).toThrow(); // really gone
    const ctx = { host: 'test-host', clock: new KernelClock(), containers: registry };
    const headers: EventHeader[] = raw.map((b) => decodeHeader(new DataView(b.buffer, b.byteOffset, b.length), 0, ctx));
    const mine = headers.filter((h) => h.container?.id === id);
    expect(mine.length).toBeGreaterThanOrEqual(2);
    for (const h of mine) expect(h.container).toMatchObject({ id, name, image: TEST_IMAGE, runtime: 'docker' });
    // No record of a task in the container's pid namespace came out as the host's or unresolved.
    const inPidNs = headers.filter((h) => h.cgroupId === mine[0]!.cgroupId);
    expect(inPidNs.every((h) => h.container?.id === id)).toBe(true);
    expect(registry.stats().resolvedByKernel).toBeGreaterThanOrEqual(1);
  });

  it('records the cgroup at mkdir with the runtime-named path, and keeps it after the cgroup is removed', () => {
    const table = KernelCgroupNames.open(features);
    try {
      const name = `bwtest-kn-${tag}-b`;
      const cgroup2 = findCgroup2Root();
      expect(cgroup2).not.toBeNull();
      const id = runAndExit(name, 'mkdir /tmp/x');
      // The id the kernel reported is the cgroup directory's inode: find it from the table's view.
      const stats = table.stats();
      expect(stats.recorded).toBeGreaterThanOrEqual(1);
      expect(stats.failed).toBe(0);
      // A cgroup made by hand in the runtime's naming, in a path where docker would put it.
      const hex = randomBytes(32).toString('hex');
      const dir = join(cgroup2!, `docker-${hex}.scope`);
      mkdirSync(dir);
      const ino = statSync(dir, { bigint: true }).ino;
      rmdirSync(dir);
      expect(table.lookup(ino)).toMatchObject({ containerId: hex, runtime: 'docker', source: 'mkdir', path: `docker-${hex}.scope` });
      expect(id).toMatch(/^[0-9a-f]{64}$/);
    } finally {
      table.close();
    }
  });

  it('attributes a task in its own pid namespace inside a hand-made runtime-named cgroup (no docker), and a task in an unnamed one as unresolved, never as the host', async () => {
    const cgroup2 = findCgroup2Root()!;
    const hex = randomBytes(32).toString('hex');
    const named = join(cgroup2, `cri-containerd-${hex}.scope`);
    const anonymous = join(cgroup2, `bwtest-plain-${tag}`);
    mkdirSync(named);
    mkdirSync(anonymous);
    const obj = loadTestObject({ include_containers: true });
    const raw: Buffer[] = [];
    const rb = obj.ringBuffer('events', (v, off, len) => void raw.push(Buffer.from(new Uint8Array(v.buffer, v.byteOffset + off, len))));
    try {
      for (const dir of [named, anonymous]) {
        // A shell that moves itself into the cgroup, then runs busybox sh (getppid) in a new pid namespace.
        const r = spawnSync('sh', ['-c', `echo $$ > ${join(dir, 'cgroup.procs')} && unshare --pid --fork busybox sh -c 'busybox sh -c true'`]);
        expect(r.status, r.stderr.toString()).toBe(0);
      }
      await new Promise((r) => setTimeout(r, 50));
      rb.drain();
    } finally {
      obj.close();
      // The shells that joined them have exited: the cgroups are empty and can go.
      for (const dir of [named, anonymous]) rmdirSync(dir);
    }
    const ctx = { host: 'test-host', clock: new KernelClock(), containers: registry };
    const headers = raw.map((b) => decodeHeader(new DataView(b.buffer, b.byteOffset, b.length), 0, ctx));
    const inNamed = headers.filter((h) => h.container?.id === hex);
    expect(inNamed.length).toBeGreaterThanOrEqual(1);
    expect(inNamed[0]!.container).toMatchObject({ id: hex, runtime: 'containerd' });
    const unresolved = headers.filter((h) => h.container?.unresolved === true);
    expect(unresolved.length).toBeGreaterThanOrEqual(1);
    expect(unresolved[0]!.container).toEqual({ id: null, unresolved: true });
    // Every record came from a task in a new pid namespace: none may be reported as the host's.
    expect(headers.filter((h) => h.container === null)).toEqual([]);
  });
});
