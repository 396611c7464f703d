/**
 * Containers that act at once and exit: a burst of `docker run --rm` containers, each making one
 * mkdir as its entrypoint. Every mkdir must reach userspace as a container event with the right id
 * (never as the host's, never unresolved), and nearly all with the container's name, although each
 * container and its cgroup are gone long before anyone could have scanned for them.
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
const BURST = 200;
const PARALLEL = 4;

type Mkdir = IEvent & { path: string; ret: number };

describe('short-lived containers', () => {
  let h: Harness;
  let plugin: SyscallPlugin;
  const dir = mkdtempSync(join(tmpdir(), 'bwtest-burst-'));
  const tag = randomBytes(3).toString('hex');

  beforeAll(async () => {
    await ensureImage();
    h = await harness();
    plugin = new SyscallPlugin({ detail: ['mkdir', 'mkdirat'], processEvents: false });
    await plugin.start(h.ctx);
  });

  afterAll(async () => {
    await plugin?.stop();
    h?.registry.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it(`${BURST} docker run --rm containers that mkdir and exit: ${BURST} mkdir events with their id, none as host, >= ${BURST - 2} with the name`, async () => {
    const started: Array<{ name: string; path: string; id: string }> = [];
    let next = 0;
    const worker = async () => {
      for (;;) {
        const i = next++;
        if (i >= BURST) return;
        const name = `bwtest-burst-${tag}-${i}`;
        const path = `/bw-burst-${tag}-${i}`;
        const cidfile = join(dir, `${i}.cid`);
        await run('docker', ['run', '--rm', '--network', 'none', '--cidfile', cidfile, '--name', name, IMAGE, 'mkdir', path]);
        started.push({ name, path, id: readFileSync(cidfile, 'utf8').trim() });
      }
    };
    await Promise.all(Array.from({ length: PARALLEL }, worker));
    const byPath = new Map(started.map((s) => [s.path, s]));
    const mine = () => (h.log.events as Mkdir[]).filter((e) => e.type.startsWith('syscall.mkdir') && byPath.has(e.path));
    // The containers are gone; their records may still be in flight (drained every 10 ms).
    await waitFor(`${BURST} mkdir events`, () => mine().length >= BURST, 20_000).catch(() => undefined);
    const events = mine();
    const seen = new Set(events.map((e) => e.path));
    const missing = started.filter((s) => !seen.has(s.path)).map((s) => s.name);
    expect(missing, 'containers whose mkdir never arrived').toEqual([]);
    expect(events).toHaveLength(BURST);
    const wrong = events.filter((e) => e.container?.id !== byPath.get(e.path)!.id).map((e) => ({ path: e.path, container: e.container }));
    expect(wrong, 'mkdir events without their container id (host, unresolved or another container)').toEqual([]);
    const named = events.filter((e) => e.container?.name === byPath.get(e.path)!.name).length;
    console.log(`[measured] ${named}/${BURST} mkdir events carried the container name; ${events.filter((e) => e.container?.image === IMAGE).length} the image`);
    expect(named).toBeGreaterThanOrEqual(BURST - 2);
    expect(plugin.stats().lost).toBe(0);
    expect(h.log.failures).toEqual([]);
  });
});
