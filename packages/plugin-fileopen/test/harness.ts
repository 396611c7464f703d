/**
 * Test harness: a PluginContext with the kernel's real feature probes and a resolver that knows
 * only the containers a test started, so other engineers' containers on the same dockerd never
 * match; docker helpers; waiting for events.
 */
import { silentLogger, type ContainerResolver, type IEvent, type PluginContext } from '@boxwatch/core';
import {
  docker,
  TEST_IMAGE,
  ensureTestImage,
  fixedResolver as coreFixedResolver,
  removeTestContainers,
  startTestContainer,
  testPluginContext,
  type TestContainer as CoreTestContainer,
} from '@boxwatch/core/testing';

export { docker } from '@boxwatch/core/testing';
export const IMAGE = TEST_IMAGE;

/** Builds the busybox test image if it is missing (the CI recipe). */
export const ensureImage = ensureTestImage;

export type TestContainer = CoreTestContainer;

export function startContainer(): Promise<TestContainer> {
  return startTestContainer({ prefix: 'bwtest-fileopen' });
}

export const removeContainers = removeTestContainers;

/** `docker exec <c> sh -c <script>`; returns stdout. */
export async function sh(c: TestContainer, script: string): Promise<string> {
  return docker('exec', c.name, 'sh', '-c', script);
}

/** A resolver over a fixed list of containers. */
export function fixedResolver(containers: () => readonly TestContainer[]): ContainerResolver {
  return coreFixedResolver(containers);
}

export interface Capture {
  ctx: PluginContext;
  events: IEvent[];
  /** Errors the plugin reported through ctx.fail (tests expect none). */
  failures: unknown[];
}

export function captureContext(containers: () => readonly TestContainer[]): Capture {
  const events: IEvent[] = [];
  // The real probes of this kernel: the variant choice under test is the one users get.
  const { ctx, failures } = testPluginContext({ containers: fixedResolver(containers), emit: (e) => void events.push(e), logger: silentLogger });
  return { ctx, events, failures };
}

/** Wait until `pred` holds for some event (the ring is drained by the plugin's timer). */
export async function waitFor<E extends IEvent>(events: readonly IEvent[], pred: (e: IEvent) => boolean, what: string, timeoutMs = 15_000): Promise<E> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const hit = events.find(pred);
    if (hit) return hit as E;
    if (Date.now() > deadline) throw new Error(`no event ${what} within ${timeoutMs} ms (have ${events.length} events)`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
