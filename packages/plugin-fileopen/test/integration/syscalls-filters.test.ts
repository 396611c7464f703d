/**
 * Each hooked syscall (open, creat, openat, openat2) decoded from a static test binary run in a
 * container, through both tracepoint variants; the only-writes and watched-containers filters
 * switched while running.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { release, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BoxwatchError, type BpfObject, type HookVariant } from '@boxwatch/core';
import { FileOpenPlugin, type FileOpenEvent, type FileOpenVariantName } from '@boxwatch/plugin-fileopen';
import { captureContext, docker, ensureImage, removeContainers, sh, startContainer, waitFor, type TestContainer } from '../harness.js';

const NONE = { read: false, write: false, create: false, trunc: false, append: false, excl: false, directory: false, cloexec: false, nofollow: false, tmpfile: false };
const containers: TestContainer[] = [];
let c: TestContainer;
let other: TestContainer;

beforeAll(async () => {
  await ensureImage();
  [c, other] = await Promise.all([startContainer(), startContainer()]);
  containers.push(c, other);
  const bin = path.join(mkdtempSync(path.join(tmpdir(), 'bw-fo-')), 'opens');
  execFileSync('clang', ['-static', '-O1', '-o', bin, fileURLToPath(new URL('../fixtures/opens.c', import.meta.url))]);
  await docker('cp', bin, `${c.name}:/bin/opens`);
});

afterAll(async () => {
  await removeContainers(containers);
});

async function withPlugin<T>(
  variant: FileOpenVariantName,
  fn: (p: FileOpenPlugin, events: FileOpenEvent[]) => Promise<T>,
  pathWalk: 'auto' | 'probe-read' = 'auto',
): Promise<T> {
  const cap = captureContext(() => containers);
  const p = new FileOpenPlugin({ variant, pathWalk });
  await p.start(cap.ctx);
  try {
    return await fn(p, cap.events as FileOpenEvent[]);
  } finally {
    await p.stop();
  }
}

const mine = (events: FileOpenEvent[], who: TestContainer, comm: string) => events.filter((e) => e.cgroupId === who.cgroupId && e.comm === comm);

/** The six opens of the test binary, decoded exactly (shared by the variant tests below). */
async function sixOpens(variant: FileOpenVariantName, pathWalk: 'auto' | 'probe-read' = 'auto', extra?: (p: FileOpenPlugin) => void): Promise<void> {
  await withPlugin(variant, async (p, events) => {
    expect(p.stats().variant).toBe(variant);
    await sh(c, 'rm -f /tmp/sys-*; opens');
    await waitFor(events, () => mine(events, c, 'opens').length >= 6, 'six opens by the test binary');
    const got = mine(events, c, 'opens');
    expect(got).toHaveLength(6);
    const by = (p: string) => got.find((e) => e.path === p);
    expect(by('/tmp/sys-open')).toMatchObject({ fs: 'overlay', flags: { ...NONE, read: true, create: true, nofollow: true }, mode: 0o640, ret: 3 });
    expect(by('/tmp/sys-creat')).toMatchObject({ fs: 'overlay', flags: { ...NONE, write: true, create: true, trunc: true }, mode: 0o600, ret: 4 });
    expect(by('/tmp/sys-openat')).toMatchObject({ fs: 'overlay', flags: { ...NONE, write: true, create: true, append: true, cloexec: true }, mode: 0o644, ret: 5 });
    expect(by('/tmp/sys-openat2')).toMatchObject({ fs: 'overlay', flags: { ...NONE, read: true, write: true, create: true, excl: true }, mode: 0o755, ret: 6 });
    expect(by('/tmp')).toMatchObject({ fs: 'overlay', flags: { ...NONE, read: true, directory: true }, mode: 0, ret: 7 });
    // An O_TMPFILE file has no name; the kernel calls its dentry "#<inode>".
    const tmp = got.find((e) => e.flags.tmpfile);
    expect(tmp?.path).toMatch(/^\/tmp\/#\d+$/);
    expect(tmp).toMatchObject({ flags: { ...NONE, write: true, tmpfile: true }, mode: 0o600, ret: 8 });
    expect(p.stats().lost).toBe(0);
    extra?.(p);
  }, pathWalk);
}

for (const variant of ['tp_btf', 'raw_tp'] as const) {
  describe(`every open syscall (${variant})`, () => {
    it('decodes open, creat, openat, openat2, O_DIRECTORY and O_TMPFILE', async () => {
      await sixOpens(variant);
    });
  });
}

describe('tp_btf path walk: direct BTF loads and the probe-read fallback give the same events', () => {
  it('direct BTF loads are used where the kernel has bpf_rdonly_cast (Linux 6.2+)', async () => {
    const [major = 0, minor = 0] = release().split('.').map(Number);
    await sixOpens('tp_btf', 'auto', (p) => expect(p.stats().directWalk).toBe(major > 6 || (major === 6 && minor >= 2)));
  });

  it('the probe-read walk (what kernels before 6.2 load) decodes the same six opens', async () => {
    await sixOpens('tp_btf', 'probe-read', (p) => expect(p.stats().directWalk).toBe(false));
  });

  it('a verifier rejection of the direct walk reloads the probe-read walk', async () => {
    // What a kernel without bpf_rdonly_cast does: the first load fails with ERR_VERIFIER.
    class RejectingKernel extends FileOpenPlugin {
      rejected = 0;
      protected override configure(obj: BpfObject, variant: HookVariant): void {
        let direct = false;
        const setGlobals = obj.setGlobals.bind(obj);
        obj.setGlobals = (values) => {
          direct = values.direct_walk === true;
          setGlobals(values);
        };
        super.configure(obj, variant);
        if (direct) {
          this.rejected++;
          throw new BoxwatchError('ERR_VERIFIER', 'simulated: unknown kfunc bpf_rdonly_cast');
        }
      }
    }
    const cap = captureContext(() => containers);
    const p = new RejectingKernel({ variant: 'tp_btf' });
    await p.start(cap.ctx);
    try {
      expect(p.rejected).toBe(1);
      expect(p.stats().directWalk).toBe(false);
      await sh(c, 'cat /etc/hostname >/dev/null');
      await waitFor(cap.events, (e) => (e as FileOpenEvent).path === '/etc/hostname' && e.cgroupId === c.cgroupId, 'an open after the fallback');
    } finally {
      await p.stop();
    }
  });
});

describe('filters changed while running', () => {
  it('only-writes mode drops read-only opens, and can be switched off again', async () => {
    await withPlugin('tp_btf', async (p, events) => {
      p.setOnlyWrites(true);
      await sh(c, 'cat /etc/passwd >/dev/null; echo w > /tmp/ow-write');
      await waitFor<FileOpenEvent>(events, (e) => (e as FileOpenEvent).path === '/tmp/ow-write' && e.cgroupId === c.cgroupId, 'the write under only-writes');
      expect(mine(events, c, 'cat')).toHaveLength(0);
      expect(p.stats().filtered).toBeGreaterThan(0);
      p.setOnlyWrites(false);
      await sh(c, 'cat /etc/passwd >/dev/null');
      await waitFor<FileOpenEvent>(events, (e) => (e as FileOpenEvent).path === '/etc/passwd' && e.comm === 'cat' && e.cgroupId === c.cgroupId, 'the read after only-writes is off');
    });
  });

  it('watched containers: only the listed container is reported', async () => {
    await withPlugin('tp_btf', async (p, events) => {
      p.watchContainers([other.name]);
      // Opens by any container before the filter took effect may still be in the ring buffer:
      // let one drain pass deliver them, then look only at what comes after.
      await new Promise((r) => setTimeout(r, 100));
      events.length = 0;
      await sh(c, 'echo 1 > /tmp/watch-c');
      await sh(other, 'echo 1 > /tmp/watch-other');
      await waitFor<FileOpenEvent>(events, (e) => (e as FileOpenEvent).path === '/tmp/watch-other' && e.cgroupId === other.cgroupId, 'the watched container');
      expect(events.filter((e) => e.cgroupId !== other.cgroupId)).toHaveLength(0);
      p.watchContainers(null);
      await sh(c, 'echo 2 > /tmp/watch-c2');
      await waitFor<FileOpenEvent>(events, (e) => (e as FileOpenEvent).path === '/tmp/watch-c2' && e.cgroupId === c.cgroupId, 'every container again');
    });
  });
});
