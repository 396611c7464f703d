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
import { RuleSwitchStore, ruleSwitchesPath } from './rule-switches.js';

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
  // Before the detector exists: a corrupt file stops the start, and the saved switches hold from
  // the first event on.
  const ruleSwitches = RuleSwitchStore.load(ruleSwitchesPath(config));
  const detector = new Detector({
    rules: ruleFiles(config),
    disabledRules: ruleSwitches.names(),
    saveDisabledRules: (names) => ruleSwitches.save(names),
    watchRules: d.watchRules,
    models: d.models ? { learning: { learnMs: d.learnMinutes * 60_000 } } : false,
    ...(extra.kernelSequence ? { kernelSequence: extra.kernelSequence } : {}),
    ...(extra.containers ? { containers: extra.containers, nameWaitMs: d.alertNameWaitMs } : {}),
    logger: logger.child({ component: 'detector' }),
  });
  for (const e of detector.ruleErrors) logger.warn({ file: e.file, line: e.line }, e.message);
  if (ruleSwitches.names().length > 0) {
    const set = detector.rules;
    const known = new Set(set?.loaded.map((r) => r.name));
    const missing = ruleSwitches.names().filter((n) => !known.has(n));
    logger.info({ file: ruleSwitches.file, disabled: ruleSwitches.names().filter((n) => known.has(n)) }, 'rules switched off through the API stay off');
    // Kept, so that the rule is off again if its file brings it back; the API can forget them.
    if (missing.length > 0) logger.warn({ file: ruleSwitches.file, rules: missing }, 'rules switched off through the API are not in the loaded rules; kept');
  }
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
