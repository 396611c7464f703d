import { KernelClock } from '../clock.js';
import type { IEvent } from '../event.js';
import type { FeatureReport } from '../features.js';
import type { Logger } from '../logger.js';
import type { ContainerResolver, PluginContext } from '../plugin.js';
import { probeFeatures } from '../probes.js';

/** Keeps every warning and error so a test can assert that nothing went wrong quietly. */
export class RecordingLogger implements Logger {
  readonly problems: Array<{ level: 'warn' | 'error'; obj: unknown; msg?: string }> = [];
  debug(): void {}
  info(): void {}
  warn(obj: object | string, msg?: string): void {
    this.problems.push({ level: 'warn', obj, msg });
  }
  error(obj: object | string, msg?: string): void {
    this.problems.push({ level: 'error', obj, msg });
  }
  child(): Logger {
    return this;
  }
}

export interface TestContextOptions {
  containers: ContainerResolver;
  /** Where emitted events go. */
  emit: (event: IEvent) => void;
  logger?: Logger;
  /** Default: the running kernel's real probes, so the variant a test exercises is the one users get. */
  features?: FeatureReport;
  host?: string;
}

export interface TestContext {
  ctx: PluginContext;
  /** What the plugin reported through ctx.fail (tests usually expect none). */
  failures: unknown[];
}

export function testPluginContext(options: TestContextOptions): TestContext {
  const failures: unknown[] = [];
  const ctx: PluginContext = {
    host: options.host ?? 'test-host',
    features: options.features ?? probeFeatures(),
    containers: options.containers,
    clock: new KernelClock(),
    logger: options.logger ?? new RecordingLogger(),
    emit: options.emit,
    fail: (err) => void failures.push(err),
  };
  return { ctx, failures };
}
