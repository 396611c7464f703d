/**
 * process.exec says which file really runs (`exe`: the new image's mm->exe_file, walked to the path
 * the container sees) next to what was exec'd (`filename`) and a script's interpreter. One
 * `docker run --rm` container that acts at once: busybox applets (run through /proc/self/exe by
 * busybox's shell, or through their /bin/<applet> symlink), a #! script, a copy of busybox in /tmp
 * (a dropped binary), and a symlink in /tmp to busybox.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IEvent } from '@boxwatch/core';
import { SyscallPlugin } from '@boxwatch/plugin-syscall';
import { ensureImage, harness, IMAGE, waitFor, type Harness } from '../harness.js';

const run = promisify(execFile);

type Exec = IEvent & { filename: string; exe: string | null; exe_truncated: boolean; interpreter: string | null; argv: string[] };

describe('process.exec exe and interpreter (real container, acting at once)', () => {
  let h: Harness;
  let plugin: SyscallPlugin;
  const dir = mkdtempSync(join(tmpdir(), 'bwtest-exe-'));

  beforeAll(async () => {
    await ensureImage();
    h = await harness();
    plugin = new SyscallPlugin({ detail: [] });
    await plugin.start(h.ctx);
  });

  afterAll(async () => {
    await plugin?.stop();
    h?.registry.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reports the real executable: /bin/busybox for applets and /bin/sh scripts, the /tmp copy, a symlink target', async () => {
    const cidfile = join(dir, 'cid');
    const name = `bwtest-exe-${randomBytes(3).toString('hex')}`;
    const script = [
      'cp /bin/busybox /tmp/true',
      'ln -s /bin/busybox /tmp/hostname',
      "printf '#!/bin/sh\\nexit 0\\n' > /tmp/job.sh",
      'chmod +x /tmp/job.sh',
      '/tmp/job.sh',
      '/tmp/true',
      '/tmp/hostname > /dev/null',
      'sed -n 1p /etc/hostname > /dev/null',
      'grep -q . /etc/hostname',
      '/bin/cat /etc/hostname > /dev/null',
      'cat /etc/hostname > /dev/null',
    ].join(' && ');
    await run('docker', ['run', '--rm', '--network', 'none', '--cidfile', cidfile, '--name', name, IMAGE, 'sh', '-c', `${script}; exit 0`]);
    const id = readFileSync(cidfile, 'utf8').trim();
    const mine = () => (h.log.events as Exec[]).filter((e) => e.type === 'process.exec' && e.container?.id === id);
    const last = () => mine().find((e) => e.argv.join(' ') === 'cat /etc/hostname');
    await waitFor('the last exec of the container', () => last() !== undefined, 10_000);
    const execs = mine();
    console.log(`[measured] ${execs.length} execs: ${execs.map((e) => `${e.argv[0]}: ${e.filename} -> ${e.exe}`).join(', ')}`);
    const by = (filename: string) => execs.filter((e) => e.filename === filename);

    // Every exec of the container names a real file, never /proc/self/exe, never truncated.
    expect(execs.filter((e) => e.exe === null || e.exe.startsWith('/proc/') || e.exe_truncated)).toEqual([]);
    // The entrypoint and the applets run busybox, whichever path they were exec'd by: busybox's
    // shell runs its applets by exec'ing /proc/self/exe.
    expect(by('/bin/sh').map((e) => e.exe)).toEqual(['/bin/busybox']);
    expect(by('/bin/cat').map((e) => e.exe)).toEqual(['/bin/busybox']);
    const selfExec = by('/proc/self/exe');
    expect(selfExec.map((e) => e.argv[0]).sort()).toEqual(['cat', 'grep', 'sed']);
    expect(selfExec.every((e) => e.exe === '/bin/busybox')).toBe(true);
    const job = by('/tmp/job.sh');
    expect(job).toHaveLength(1);
    expect(job[0]).toMatchObject({ exe: '/bin/busybox', interpreter: '/bin/sh' });
    expect(by('/tmp/true')).toHaveLength(1);
    expect(by('/tmp/true')[0]).toMatchObject({ exe: '/tmp/true', interpreter: null });
    expect(by('/tmp/hostname')).toHaveLength(1);
    expect(by('/tmp/hostname')[0]).toMatchObject({ exe: '/bin/busybox', interpreter: null });
    expect(plugin.stats().lost).toBe(0);
    expect(h.log.failures).toEqual([]);
  });

  it('on a kernel without bpf_loop the walk is never reached: exe is null, and the start says why', async () => {
    await plugin.stop();
    const warnings: unknown[] = [];
    const logger = { ...h.ctx.logger, warn: (obj: unknown, msg?: string) => void warnings.push({ obj, msg }) } as typeof h.ctx.logger;
    const noLoop = new SyscallPlugin({ detail: [] });
    await noLoop.start({ ...h.ctx, logger, features: { ...h.ctx.features, bpf_loop: { status: 'unsupported', detail: 'as if Linux 5.15' } } });
    try {
      const cidfile = join(dir, 'cid-noloop');
      await run('docker', ['run', '--rm', '--network', 'none', '--cidfile', cidfile, IMAGE, 'sh', '-c', '/bin/cat /etc/hostname > /dev/null; exit 0']);
      const id = readFileSync(cidfile, 'utf8').trim();
      const cat = await waitFor('the cat exec', () => (h.log.events as Exec[]).find((e) => e.type === 'process.exec' && e.container?.id === id && e.filename === '/bin/cat'), 10_000);
      expect(cat).toMatchObject({ exe: null, exe_truncated: false });
      expect(JSON.stringify(warnings)).toContain('bpf_loop');
    } finally {
      await noLoop.stop();
    }
  });
});
