/**
 * Test harness: the real container registry (it learns names from docker's create event, which
 * is what lets a policy select a `docker run --rm` container before its entrypoint runs), the
 * enforce plugin on the real kernel, and `docker run --rm` helpers writing results into a host
 * directory the test owns.
 */
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DockerContainerRegistry, probeFeatures, silentLogger, type IEvent } from '@boxwatch/core';
import { docker, ensureTestImage, TEST_IMAGE, testContainerName, testPluginContext } from '@boxwatch/core/testing';
import { EnforcePlugin, parsePoliciesOrThrow, type EnforceEvent } from '@boxwatch/plugin-enforce';

export { docker, ensureTestImage, TEST_IMAGE, testContainerName };

export interface Rig {
  plugin: EnforcePlugin;
  registry: DockerContainerRegistry;
  events: IEvent[];
  failures: unknown[];
  /** Host directory mounted at /out in the containers run(). */
  out: string;
  close(): Promise<void>;
}

export async function startRig(policyYaml: string): Promise<Rig> {
  await ensureTestImage();
  const features = probeFeatures();
  const registry = new DockerContainerRegistry({ logger: silentLogger });
  await registry.start({ features });
  const events: IEvent[] = [];
  const { ctx, failures } = testPluginContext({ containers: registry, emit: (e) => void events.push(e), logger: silentLogger, features });
  const plugin = new EnforcePlugin({ policies: parsePoliciesOrThrow(policyYaml, 'test.yaml') });
  await plugin.start(ctx);
  const out = mkdtempSync(join(tmpdir(), 'bwtest-enforce-'));
  return {
    plugin,
    registry,
    events,
    failures,
    out,
    async close() {
      await plugin.stop();
      registry.close();
      rmSync(out, { recursive: true, force: true });
    },
  };
}

/**
 * `docker run --rm` a container that runs `script` at once (no network, /out = the rig's dir)
 * and wait for it to exit. Resolves with its exit code.
 */
export async function run(rig: Rig, name: string, script: string, extraArgs: string[] = []): Promise<number> {
  try {
    await docker('run', '--rm', '--name', name, '--network', 'none', '-v', `${rig.out}:/out`, ...extraArgs, TEST_IMAGE, 'sh', '-c', script);
    return 0;
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'number' ? code : -1;
  }
}

export function outFile(rig: Rig, name: string): string | null {
  const p = join(rig.out, name);
  return existsSync(p) ? readFileSync(p, 'utf8').trim() : null;
}

/** Wait until `pred` holds for some event (the ring is drained by the plugin's timer). */
export async function waitFor(events: readonly IEvent[], pred: (e: EnforceEvent) => boolean, what: string, timeoutMs = 10_000): Promise<EnforceEvent> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const hit = events.find((e) => e.type.startsWith('enforce.') && pred(e as EnforceEvent));
    if (hit) return hit as EnforceEvent;
    if (Date.now() > deadline) throw new Error(`no event ${what} within ${timeoutMs} ms (have ${events.map((e) => e.type).join(', ') || 'none'})`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
