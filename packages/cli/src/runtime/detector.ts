/**
 * The detector as the CLI runs it: configured rules, learned models persisted under the state
 * directory (loaded at start when present, saved every saveIntervalSeconds and at stop).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Detector, defaultRulesPath, type KernelSequenceControl } from '@boxwatch/detector';
import type { ContainerResolver, Logger } from '@boxwatch/core';
import type { BoxwatchConfig } from '../config/schema.js';
import type { ConfigSource } from '../config/load.js';

export interface ManagedDetector {
  detector: Detector;
  modelsFile: string | null;
  /** True when models were loaded from a previous run (no learning period then, for known images). */
  resumed: boolean;
  save(): Promise<void>;
  close(): Promise<void>;
}

export function ruleFiles(config: BoxwatchConfig): string[] {
  return config.detector.rules.map((r) => (r === 'default' ? defaultRulesPath() : resolve(r)));
}

export interface ManagedDetectorOptions {
  /** In-process only (`run`): the syscall plugin in `sequence: 'kernel'` mode, driven by the models. */
  kernelSequence?: KernelSequenceControl | null;
  /** In-process only (`run`): container names for alerts about containers the runtime had not named yet. */
  containers?: Pick<ContainerResolver, 'whenNamed'>;
}

export async function createManagedDetector(config: BoxwatchConfig, source: ConfigSource, logger: Logger, extra: ManagedDetectorOptions = {}): Promise<ManagedDetector> {
  const d = config.detector;
  const detector = new Detector({
    rules: ruleFiles(config),
    watchRules: d.watchRules,
    models: d.models ? { learning: { learnMs: d.learnMinutes * 60_000 } } : false,
    ...(extra.kernelSequence ? { kernelSequence: extra.kernelSequence } : {}),
    ...(extra.containers ? { containers: extra.containers, nameWaitMs: d.alertNameWaitMs } : {}),
    logger: logger.child({ component: 'detector' }),
  });
  for (const e of detector.ruleErrors) logger.warn({ file: e.file, line: e.line }, e.message);
  const modelsFile = d.models ? (d.modelsFile ?? join(config.stateDir, 'models.json')) : null;
  let resumed = false;
  if (modelsFile && existsSync(modelsFile)) {
    try {
      await detector.load(modelsFile);
      resumed = true;
      logger.info({ file: modelsFile, images: detector.stats().models.images }, 'learned models loaded');
    } catch (err) {
      throw source.error(['detector', 'modelsFile'], (err as Error).message);
    }
  }
  let saving: Promise<void> = Promise.resolve();
  const save = async () => {
    if (!modelsFile) return;
    saving = saving.then(async () => {
      try {
        mkdirSync(dirname(modelsFile), { recursive: true, mode: 0o700 });
        await detector.save(modelsFile);
      } catch (err) {
        logger.warn({ file: modelsFile, err: (err as Error).message }, 'cannot save learned models');
      }
    });
    return saving;
  };
  const timer = modelsFile ? setInterval(() => void save(), d.saveIntervalSeconds * 1000) : null;
  timer?.unref();
  let closed = false;
  return {
    detector,
    modelsFile,
    resumed,
    save,
    async close() {
      if (closed) return;
      closed = true;
      if (timer) clearInterval(timer);
      await detector.close();
      await save();
    },
  };
}
