import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectLayout, dirOnMount, findContainerCgroup, parseProcCgroup, type CgroupLayout } from '../../src/cgroup-layout.js';

const ID = 'a'.repeat(64);

// This machine: Docker on cgroup v1 (cgroupfs) with a controller-less hybrid cgroup2 tree.
const HYBRID = `31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`;
// systemd distributions on v1 co-mount cpu and cpuacct; optional fields precede the separator.
const COMOUNTED = `25 24 0:22 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:9 - cgroup cgroup rw,cpu,cpuacct
26 24 0:23 / /sys/fs/cgroup/memory rw,nosuid shared:10 - cgroup cgroup rw,memory
`;
const UNIFIED = `30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
`;

describe('cgroup layout detection', () => {
  it('uses the v1 hierarchies on a hybrid host', () => {
    const layout = detectLayout(HYBRID)!;
    expect(layout.version).toBe(1);
    if (layout.version !== 1) return;
    expect(layout.controllers.get('cpuacct')).toEqual({ mountPoint: '/sys/fs/cgroup/cpuacct', root: '/' });
    expect(layout.controllers.get('memory')?.mountPoint).toBe('/sys/fs/cgroup/memory');
    expect(layout.controllers.has('pids')).toBe(true);
  });

  it('maps co-mounted controllers to the same mount', () => {
    const layout = detectLayout(COMOUNTED)!;
    if (layout.version !== 1) throw new Error('expected v1');
    expect(layout.controllers.get('cpu')).toEqual(layout.controllers.get('cpuacct'));
    expect(layout.controllers.get('cpuacct')?.mountPoint).toBe('/sys/fs/cgroup/cpu,cpuacct');
  });

  it('uses cgroup2 on a unified host, and nothing without cgroups', () => {
    expect(detectLayout(UNIFIED)).toEqual({ version: 2, unified: { mountPoint: '/sys/fs/cgroup', root: '/' } });
    expect(detectLayout('22 1 8:1 / / rw - ext4 /dev/sda1 rw\n')).toBeNull();
  });

  it('unescapes mount paths and handles subtree mounts', () => {
    const layout = detectLayout('30 23 0:26 /kubepods /host\\040cgroup rw - cgroup2 cgroup2 rw\n')!;
    expect(layout).toEqual({ version: 2, unified: { mountPoint: '/host cgroup', root: '/kubepods' } });
    if (layout.version !== 2) return;
    expect(dirOnMount(layout.unified, '/kubepods/pod1/x')).toBe('/host cgroup/pod1/x');
    expect(dirOnMount(layout.unified, '/system.slice/x')).toBeNull();
  });

  it('parses /proc/<pid>/cgroup lines, v1 and v2', () => {
    const m = parseProcCgroup(`9:name=systemd:/docker/${ID}\n2:cpu,cpuacct:/docker/${ID}\n0::/system.slice/docker-${ID}.scope\n`);
    expect(m.get('cpuacct')).toBe(`/docker/${ID}`);
    expect(m.get('cpu')).toBe(`/docker/${ID}`);
    expect(m.get('')).toBe(`/system.slice/docker-${ID}.scope`);
  });
});

describe('finding a container cgroup', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'bw-res-layout-'));
    await mkdir(path.join(root, 'v2/system.slice', `docker-${ID}.scope`), { recursive: true });
    for (const c of ['cpuacct', 'memory']) await mkdir(path.join(root, 'v1', c, 'docker', ID), { recursive: true });
    await mkdir(path.join(root, 'v2/kubepods/burstable/pod7', ID), { recursive: true });
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  const v2 = (): CgroupLayout => ({ version: 2, unified: { mountPoint: path.join(root, 'v2'), root: '/' } });

  it('finds the systemd scope name by convention when the process path is not known', async () => {
    expect(await findContainerCgroup(v2(), ID, null)).toEqual({ version: 2, dir: path.join(root, 'v2/system.slice', `docker-${ID}.scope`) });
  });

  it('follows the process path for nestings no convention covers', async () => {
    expect(await findContainerCgroup(v2(), ID, `0::/kubepods/burstable/pod7/${ID}\n`)).toEqual({
      version: 2,
      dir: path.join(root, 'v2/kubepods/burstable/pod7', ID),
    });
  });

  it('finds cgroupfs docker/<id> on v1, leaving missing controllers out', async () => {
    const layout: CgroupLayout = {
      version: 1,
      controllers: new Map(
        (['cpuacct', 'memory', 'pids'] as const).map((c) => [c, { mountPoint: path.join(root, 'v1', c), root: '/' }]),
      ),
    };
    expect(await findContainerCgroup(layout, ID, null)).toEqual({
      version: 1,
      dirs: { cpuacct: path.join(root, 'v1/cpuacct/docker', ID), memory: path.join(root, 'v1/memory/docker', ID) },
    });
  });

  it('gives null for a container whose cgroup does not exist', async () => {
    expect(await findContainerCgroup(v2(), 'b'.repeat(64), null)).toBeNull();
  });
});
