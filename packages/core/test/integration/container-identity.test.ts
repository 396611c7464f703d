import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeHeader, DockerContainerRegistry, KernelClock, type EventHeader } from '@boxwatch/core';
import { getppidTimes, loadTestObject } from '../helpers/test-object.js';
import { test_record as R } from '../generated/test-record.js';
import { TEST_IMAGE } from '../helpers/docker.js';

const name = `bwtest-core-${randomBytes(4).toString('hex')}`;
let containerId = '';
const registry = new DockerContainerRegistry();

beforeAll(async () => {
  containerId = execFileSync('docker', ['run', '-d', '--name', name, TEST_IMAGE, 'sleep', '300']).toString().trim();
  await registry.start();
});

afterAll(() => {
  registry.close();
  execFileSync('docker', ['rm', '-f', name], { stdio: 'ignore' });
});

describe('container identity', () => {
  it('reports a process in a docker container with its full id and name, and a host process as host (helper and BTF headers agree)', async () => {
    const obj = loadTestObject({ include_containers: true });
    const headers: EventHeader[] = [];
    const ctx = { host: 'test-host', clock: new KernelClock(), containers: registry };
    // Every record carries the header twice: bw_fill_header (helpers, probe reads) and
    // bw_fill_header_btf (direct BTF loads). Everything but the clock read must be identical.
    const mismatches: string[] = [];
    const rb = obj.ringBuffer('events', (v, off) => {
      headers.push(decodeHeader(v, off, ctx));
      const a = new Uint8Array(v.buffer, v.byteOffset + off + 8, 40);
      const b = new Uint8Array(v.buffer, v.byteOffset + off + R.offsets.hdr_btf + 8, 40);
      if (a.some((x, i) => x !== b[i])) mismatches.push(`${Buffer.from(a).toString('hex')} != ${Buffer.from(b).toString('hex')}`);
      const ts = v.getBigUint64(off, true);
      const tsBtf = v.getBigUint64(off + R.offsets.hdr_btf, true);
      if (tsBtf < ts || tsBtf - ts > 1_000_000n) mismatches.push(`clock ${ts} then ${tsBtf}`);
    });
    try {
      // busybox sh reads its parent pid (getppid) when it starts: each `sh -c` triggers a record.
      execFileSync('docker', ['exec', name, 'sh', '-c', 'sh -c true; sh -c true']);
      getppidTimes(3);
      await new Promise((r) => setTimeout(r, 50));
      rb.drain();
    } finally {
      obj.close();
    }
    expect(mismatches).toEqual([]);
    const inContainer = headers.filter((h) => h.container?.id === containerId);
    expect(inContainer.length).toBeGreaterThanOrEqual(2);
    for (const h of inContainer) {
      expect(h.container).toMatchObject({ id: containerId, name, image: TEST_IMAGE });
      expect(h.container?.id).toMatch(/^[0-9a-f]{64}$/);
      expect(h.comm).toBe('sh');
    }
    const host = headers.filter((h) => h.pid === process.pid);
    expect(host).toHaveLength(3);
    for (const h of host) expect(h.container).toBeNull();
  });

  it('maps the container to its cgroup id, name and image through the runtime API', () => {
    const d = registry.details(name);
    expect(d?.info.id).toBe(containerId);
    expect(d?.running).toBe(true);
    expect(d?.pid).toBeGreaterThan(0);
    expect(d?.ips.length).toBeGreaterThan(0);
    expect(registry.find(containerId.slice(0, 12))?.name).toBe(name);
    expect(registry.byCgroupId(d?.cgroupId ?? 0n)?.id).toBe(containerId);
  });

  it('still resolves the bare container id when the runtime API is unreachable', () => {
    const offline = new DockerContainerRegistry({ socketPath: '/nonexistent/docker.sock' });
    const cgroupId = registry.cgroupIdOf(containerId);
    expect(cgroupId).not.toBeNull();
    expect(offline.byCgroupId(cgroupId as bigint)).toMatchObject({ id: containerId });
    expect(offline.byCgroupId(1n)).toBeNull();
    offline.close();
  });
});
