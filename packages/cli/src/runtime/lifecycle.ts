/**
 * How a long-running command ends: SIGINT/SIGTERM (or --duration) resolves `stopped`, the command then
 * drains sinks and detaches programs in order. A second signal while draining exits at once.
 */
import type { Logger } from '@boxwatch/core';

export function waitForStop(logger: Logger, durationSeconds?: number): Promise<string> {
  return new Promise((resolve) => {
    let timer: NodeJS.Timeout | null = null;
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) {
        logger.warn({ signal }, 'second signal: exiting without draining');
        process.exit(130);
      }
      stopping = true;
      logger.info({ signal }, 'signal received: draining sinks and detaching programs');
      if (timer) clearTimeout(timer);
      resolve(signal);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    if (durationSeconds !== undefined) {
      timer = setTimeout(() => {
        stopping = true;
        resolve('duration');
      }, durationSeconds * 1000);
    }
  });
}

/** Run cleanup steps in order; one failing step is logged and does not skip the rest. */
export async function shutdown(logger: Logger, steps: Array<[string, () => Promise<void> | void]>): Promise<void> {
  for (const [name, step] of steps) {
    const t0 = Date.now();
    try {
      await step();
      logger.debug({ step: name, ms: Date.now() - t0 }, 'shutdown step done');
    } catch (err) {
      logger.warn({ step: name, err: (err as Error).message }, 'shutdown step failed');
    }
  }
}
