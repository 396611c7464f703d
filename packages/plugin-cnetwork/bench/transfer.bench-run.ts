/**
 * Container-to-container TCP transfer (busybox nc, 256 MiB) timed without the plugin, with it
 * attached (flows only), and with the pair banned (a ring-buffer record per send and per receive).
 * Also the ring-buffer and flow losses. Prints a table; asserts only that flows alone lose nothing.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DockerContainerRegistry, type IEvent } from '@boxwatch/core';
import { CNetworkPlugin } from '@boxwatch/plugin-cnetwork';
import { docker, ensureImage, makeContext, runContainer, testName, waitExit } from '../test/harness.js';

const MB = 256;
const names: string[] = [];
let registry: DockerContainerRegistry;

beforeAll(async () => {
  ensureImage();
  registry = new DockerContainerRegistry();
  await registry.start();
});
afterAll(async () => {
  registry.close();
  for (const n of names) await docker.getContainer(n).remove({ force: true }).catch(() => {});
});

async function transferMs(before?: (a: string, b: string) => Promise<void>): Promise<number> {
  const an = testName('bench-a');
  const bn = testName('bench-b');
  names.push(an, bn);
  const a = await runContainer(an, 'mkfifo /tmp/in; exec 3<>/tmp/in; nc -l -p 5000 <&3 > /dev/null');
  const b = await runContainer(bn, `while [ ! -e /tmp/go ]; do sleep 0.02; done; dd if=/dev/zero bs=65536 count=${MB * 16} 2>/dev/null | nc ${a.ip} 5000`);
  await registry.inspect(a.id);
  await registry.inspect(b.id);
  await before?.(a.ip, b.ip);
  await new Promise((r) => setTimeout(r, 200));
  const t0 = performance.now();
  await (await docker.getContainer(b.id).exec({ Cmd: ['touch', '/tmp/go'] })).start({});
  await waitExit(b.id);
  const ms = performance.now() - t0;
  await waitExit(a.id);
  return ms;
}

it('transfer throughput with and without the plugin', async () => {
  const rows: Array<[string, number]> = [];
  for (let round = 0; round < 1; round++) {
    rows.push(['no plugin', await transferMs()]);
    for (const banned of [false, true]) {
      const events: IEvent[] = [];
      const plugin = new CNetworkPlugin({ flowIntervalMs: 1000 });
      await plugin.start(makeContext(registry, events));
      try {
        const ms = await transferMs(banned ? async (a, b) => void (await plugin.addRule({ a, b })) : undefined);
        await new Promise((r) => setTimeout(r, 1200));
        const s = plugin.stats();
        rows.push([`plugin, ${banned ? 'pair banned' : 'flows only'} (${s.events} events, lost ${s.lost})`, ms]);
        if (!banned) expect(s.lost).toBe(0);
      } finally {
        await plugin.stop();
      }
    }
  }
  for (const [what, ms] of rows) console.log(`[cnetwork bench] ${MB} MiB ${what}: ${ms.toFixed(0)} ms = ${((MB / ms) * 1000).toFixed(0)} MiB/s`);
});
