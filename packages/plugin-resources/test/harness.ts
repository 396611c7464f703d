/**
 * Test harness: a PluginContext over a fixed list of containers (so tests see only the containers
 * they started, not other engineers'), a logger that keeps warnings, and docker helpers.
 */
import { ALL_FEATURES, type KnownContainer, type ContainerResolver, type FeatureReport, type IEvent, type Logger, type PluginContext } from '@boxwatch/core';
import {
  RecordingLogger,
  TEST_IMAGE,
  ensureTestImage,
  removeTestContainers,
  startTestContainer,
  testContainerName,
  testPluginContext,
  type TestContainer as CoreTestContainer,
} from '@boxwatch/core/testing';

export { docker } from '@boxwatch/core/testing';
export const IMAGE = TEST_IMAGE;

/** Builds the busybox test image if it is missing (same recipe as CI). */
export const ensureImage = ensureTestImage;

export type TestContainer = CoreTestContainer;

export function testName(role: string): string {
  return testContainerName(`bwtest-res-${role}`);
}

/** `docker run -d` and inspect. `runArgs` go before the image, `cmd` after. */
export function startContainer(role: string, cmd: string[], runArgs: string[] = []): Promise<TestContainer> {
  return startTestContainer({ prefix: `bwtest-res-${role}`, cmd, runArgs });
}

export const removeContainers = removeTestContainers;

type Change = { kind: 'start' | 'stop'; container: KnownContainer };

/**
 * A resolver that always lists the given containers, even after they are removed (as a resolver
 * that has not caught up would), and knows no details, so the plugin asks Docker for init pids.
 */
export function staticResolver(containers: KnownContainer[]): ContainerResolver & { emitChange(change: Change): void } {
  const listeners = new Set<(change: Change) => void>();
  return {
    byCgroupId: () => null,
    find: (idOrName) => containers.find((c) => c.id.startsWith(idOrName) || c.name === idOrName) ?? null,
    list: () => containers,
    details: () => null,
    byIp: () => null,
    cgroupIdOf: () => null,
    onChange(listener) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
    emitChange(change) {
      for (const l of listeners) l(change);
    },
  };
}

export { RecordingLogger, EventLog } from '@boxwatch/core/testing';

/** A context for the resources plugin, which needs no kernel features (so none are probed). */
export function makeContext(containers: ContainerResolver, onEvent: (e: IEvent) => void, logger: Logger = new RecordingLogger()): PluginContext {
  const features = Object.fromEntries(ALL_FEATURES.map((f) => [f, { status: 'inconclusive', detail: 'not probed in this test' }])) as FeatureReport;
  const { ctx } = testPluginContext({ containers, emit: onEvent, logger, features });
  return { ...ctx, fail: (error) => logger.error({ err: error }, 'plugin reported failure') };
}
