/**
 * file.open on real containers: each kind of open produces exactly the expected fields under the
 * right container; host opens are not reported; the deny list changes while running.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_DENY_PREFIXES, FileOpenPlugin, type FileOpenEvent } from '@boxwatch/plugin-fileopen';
import { captureContext, ensureImage, removeContainers, sh, startContainer, waitFor, type Capture, type TestContainer } from '../harness.js';

const NONE = { read: false, write: false, create: false, trunc: false, append: false, excl: false, directory: false, cloexec: false, nofollow: false, tmpfile: false };

let c: TestContainer;
let plugin: FileOpenPlugin;
let cap: Capture;
const containers: TestContainer[] = [];

/** Index into the captured events where the current step starts. */
let since = 0;

/** Run a step in the container; later lookups only see events from this step on. */
async function step(script: string): Promise<string> {
  since = cap.events.length;
  return sh(c, script);
}

/** file.open events of our container with this path, since the current step. */
function opens(path: string, comm?: string): FileOpenEvent[] {
  return cap.events
    .slice(since)
    .filter((e) => e.type === 'file.open' && e.cgroupId === c.cgroupId && (e as FileOpenEvent).path === path && (!comm || e.comm === comm)) as FileOpenEvent[];
}

/** Exactly one open of `path` by `comm` in the current step, under our container. */
async function one(path: string, comm: string): Promise<FileOpenEvent> {
  await waitFor(cap.events, () => opens(path, comm).length > 0, `${comm} opening ${path}`);
  const all = opens(path, comm);
  expect(all, `events of ${comm} opening ${path}`).toHaveLength(1);
  const ev = all[0]!;
  expect(ev.type).toBe('file.open');
  expect(ev.container?.id).toBe(c.id);
  return ev;
}

beforeAll(async () => {
  await ensureImage();
  c = await startContainer();
  containers.push(c);
  cap = captureContext(() => containers);
  // Where kprobes exist the chooser prefers kretprobe (whose ret is 0, not the fd); this suite
  // checks the tracepoint variant's exact fields, so it forces it there and says so.
  const kprobes = cap.ctx.features.kprobe;
  if (kprobes.status === 'supported') console.log(`fileopen: kernel has kprobes (${kprobes.detail}); forcing the tp_btf variant`);
  else console.log(`fileopen: no kprobes here (${kprobes.status}: ${kprobes.detail}); the chooser falls back to tp_btf`);
  // Only this suite's container is watched (in the kernel), so other containers busy on the same
  // machine can neither flood the ring buffer nor make "nothing lost" depend on them.
  plugin = new FileOpenPlugin({ ...(kprobes.status === 'supported' ? { variant: 'tp_btf' as const } : {}), containers: [c.id] });
  const t0 = process.hrtime.bigint();
  await plugin.start(cap.ctx);
  console.log(`fileopen: plugin start (open + load + attach) ${(Number(process.hrtime.bigint() - t0) / 1e6).toFixed(1)} ms, variant ${plugin.stats().variant}`);
});

afterAll(async () => {
  await plugin?.stop();
  await removeContainers(containers);
});

describe('file.open in a container (tp_btf variant)', () => {
  it('runs the tp_btf variant (chosen by the probes where kprobes are missing)', () => {
    expect(plugin.stats().variant).toBe('tp_btf');
  });

  it('/etc/shadow read', async () => {
    await step('cat /etc/shadow >/dev/null');
    const ev = await one('/etc/shadow', 'cat');
    // cat's first open gets fd 3 (0-2 are taken).
    expect(ev).toMatchObject({ fs: 'overlay', flags: { ...NONE, read: true }, mode: 0, ret: 3, truncated: false });
    expect(ev.raw_flags & 3).toBe(0);
  });

  it('a new file under /tmp: create + write, mode as passed', async () => {
    await step('exec 7>/tmp/new-file');
    const ev = await one('/tmp/new-file', 'sh');
    // busybox sh opens the lowest free fd (3) and then moves it to 7.
    expect(ev).toMatchObject({ fs: 'overlay', flags: { ...NONE, write: true, create: true, trunc: true }, mode: 0o666, ret: 3, truncated: false });
  });

  it('/dev/null is /dev/null (a tmpfs mount)', async () => {
    await step('exec 5</dev/null');
    const ev = await one('/dev/null', 'sh');
    expect(ev).toMatchObject({ fs: 'tmpfs', flags: { ...NONE, read: true }, mode: 0, ret: 3, truncated: false });
  });

  it('/proc/self/status is /proc/<pid in the container>/status', async () => {
    const nsPid = (await step('echo $$; exec 4</proc/self/status')).trim();
    expect(nsPid).toMatch(/^\d+$/);
    const ev = await one(`/proc/${nsPid}/status`, 'sh');
    expect(ev).toMatchObject({ fs: 'proc', flags: { ...NONE, read: true }, ret: 3, truncated: false });
  });

  it('/etc/hostname (a bind mount from the host) is /etc/hostname', async () => {
    await step('cat /etc/hostname >/dev/null');
    const hostFs = execFileSync('stat', ['-f', '-c', '%T', `/var/lib/docker/containers/${c.id}/hostname`]).toString().trim();
    const ev = await one('/etc/hostname', 'cat');
    // stat -f names ext4 "ext2/ext3"; the kernel's file_system_type name is what we report.
    expect(ev.fs).toBe(hostFs === 'ext2/ext3' ? 'ext4' : hostFs);
    expect(ev.flags).toEqual({ ...NONE, read: true });
  });

  it('a relative path after cd comes out absolute', async () => {
    await step('mkdir -p /tmp/rel && echo x > /tmp/rel/target-file && cd /tmp/rel && cat target-file >/dev/null');
    const ev = await one('/tmp/rel/target-file', 'cat');
    expect(ev).toMatchObject({ fs: 'overlay', flags: { ...NONE, read: true }, truncated: false });
  });

  it('a symlink resolves to its target', async () => {
    await step('echo y > /tmp/link-target && ln -sf /tmp/link-target /tmp/the-link && cat /tmp/the-link >/dev/null');
    const ev = await one('/tmp/link-target', 'cat');
    expect(ev).toMatchObject({ fs: 'overlay', flags: { ...NONE, read: true }, truncated: false });
    expect(opens('/tmp/the-link')).toHaveLength(0);
  });

  it('a 40-component path comes through whole', async () => {
    const dirs = Array.from({ length: 38 }, (_, i) => `c${i}`).join('/');
    const path = `/tmp/${dirs}/leaf`; // tmp + 38 + leaf = 40 components
    expect(path.split('/').filter(Boolean)).toHaveLength(40);
    await step(`mkdir -p /tmp/${dirs} && echo z > ${path} && cat ${path} >/dev/null`);
    const ev = await one(path, 'cat');
    expect(ev).toMatchObject({ fs: 'overlay', flags: { ...NONE, read: true }, truncated: false });
  });

  it('a path deeper than maxDepth (64) is flagged truncated and keeps its leaf end', async () => {
    const dirs = Array.from({ length: 78 }, (_, i) => `d${i}`).join('/');
    const path = `/tmp/${dirs}/deepleaf`; // 80 components
    await step(`mkdir -p /tmp/${dirs} && echo z > ${path} && cat ${path} >/dev/null`);
    const ev = await waitFor<FileOpenEvent>(cap.events, (e) => e.cgroupId === c.cgroupId && e.comm === 'cat' && (e as FileOpenEvent).path.endsWith('/deepleaf'), 'cat of the 80-component path');
    expect(ev.truncated).toBe(true);
    // The last 64 components, without a leading '/'.
    expect(ev.path).toBe(path.split('/').filter(Boolean).slice(-64).join('/'));
  });

  it('a nonexistent file: the path as passed, ret -2', async () => {
    await step('cat /no/such/file 2>/dev/null; cd /tmp && cat not-here 2>/dev/null; true');
    const abs = await one('/no/such/file', 'cat');
    expect(abs).toMatchObject({ fs: '', flags: { ...NONE, read: true }, ret: -2, truncated: false });
    const rel = await one('not-here', 'cat');
    expect(rel).toMatchObject({ fs: '', ret: -2, truncated: false });
  });

  it('a failed open with an argument longer than 255 bytes: its first 255 bytes, flagged truncated', async () => {
    const long = `/no/${'x'.repeat(200)}/${'y'.repeat(200)}/end`;
    await step(`cat ${long} 2>/dev/null; true`);
    const ev = await one(long.slice(0, 255), 'cat');
    expect(ev).toMatchObject({ fs: '', ret: -2, truncated: true });
  });

  it('host process opens are not reported', async () => {
    const hostPath = `/tmp/bw-fileopen-host-${process.pid}-${Date.now()}`;
    closeSync(openSync(hostPath, 'w'));
    rmSync(hostPath);
    // A container open after it: once that is here, the host open would have been too.
    await step('cat /etc/passwd >/dev/null; echo marker > /tmp/after-host');
    await one('/tmp/after-host', 'sh');
    expect(cap.events.filter((e) => (e as FileOpenEvent).path === hostPath)).toHaveLength(0);
    expect(cap.events.filter((e) => e.pid === process.pid)).toHaveLength(0);
  });

  it('read-only opens of shared libraries are dropped by default, writes there are kept', async () => {
    await step('mkdir -p /usr/lib && echo so > /usr/lib/libx.so && cat /usr/lib/libx.so >/dev/null');
    const write = await one('/usr/lib/libx.so', 'sh');
    expect(write.flags.write).toBe(true);
    expect(opens('/usr/lib/libx.so', 'cat')).toHaveLength(0);
    expect(plugin.stats().denied).toBeGreaterThan(0);
  });

  it('the deny list updated while running stops matching events from the next open', async () => {
    await step('echo a > /tmp/deny-me && cat /tmp/deny-me >/dev/null');
    await one('/tmp/deny-me', 'cat');
    const deniedBefore = plugin.stats().denied;
    plugin.setDenyPrefixes([...DEFAULT_DENY_PREFIXES, '/tmp/deny-']);
    await step('cat /tmp/deny-me >/dev/null; cat /tmp/link-target >/dev/null; echo done > /tmp/marker-after-deny');
    await one('/tmp/marker-after-deny', 'sh');
    expect(opens('/tmp/deny-me', 'cat')).toHaveLength(0);
    expect(opens('/tmp/link-target', 'cat')).toHaveLength(1);
    expect(plugin.stats().denied).toBe(deniedBefore + 1);
    // And back.
    plugin.setDenyPrefixes(DEFAULT_DENY_PREFIXES);
    expect(plugin.denyPrefixes().some((r) => r.prefix === '/tmp/deny-')).toBe(false);
    await step('cat /tmp/deny-me >/dev/null');
    await one('/tmp/deny-me', 'cat');
  });

  it('reports nothing lost and no failure', () => {
    expect(cap.failures).toEqual([]);
    const s = plugin.stats();
    expect(s.lost).toBe(0);
    expect(s.decodeErrors).toBe(0);
  });
});
