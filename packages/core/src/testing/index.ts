/**
 * Test support for plugin authors (and boxwatch's own tests): docker helpers for short-lived test
 * containers, the busybox test image, a PluginContext over a fixed set of containers with the
 * kernel's real feature probes, and an event log to wait on. Import from `@boxwatch/core/testing`.
 */
export { docker, dockerExec, type ExecResult } from './docker.js';
export { TEST_IMAGE, ensureTestImage } from './image.js';
export { startTestContainer, removeTestContainers, testContainerName, type TestContainer, type StartOptions } from './containers.js';
export { fixedResolver, type FixedResolver } from './resolver.js';
export { testPluginContext, RecordingLogger, type TestContextOptions, type TestContext } from './context.js';
export { EventLog } from './event-log.js';
