/**
 * `boxwatch run`: agent + detector in one process, no broker. Every collection plugin feeds the
 * in-process detector; alerts print as they happen (pretty on a TTY, ndjson otherwise or with
 * --format ndjson); a status line and the first-run learning progress are drawn on stderr.
 */
import { Collector, createLogger, type ContainerInfo } from '@boxwatch/core';
import { AlertPrinter, DetectorSink, type AlertEvent } from '@boxwatch/detector';
import type { LoadedConfig } from '../config/load.js';
import { createConfiguredPlugins, enforcePlugin, kernelSequencePlugin } from '../runtime/plugins.js';
import { EnforceAlertSink } from '../runtime/enforce-alerts.js';
import { createManagedDetector } from '../runtime/detector.js';
import { AlertStore } from '../runtime/alert-store.js';
import { StatusLine, formatDuration } from '../runtime/status-line.js';
import { startApi } from '../runtime/api.js';
import { shutdown, waitForStop } from '../runtime/lifecycle.js';
import { CNetworkRuleService } from '../runtime/cnetwork-rules.js';
import { EnforcePolicyService } from '../runtime/enforce-policies.js';

export async function run({ config, source }: LoadedConfig): Promise<void> {
  const logger = createLogger({ level: config.logLevel });
  // Before anything loads: a corrupt store of API policies or rules stops the start with its
  // name and the problem, and nothing else in the state directory has been written.
  const savedPolicies = EnforcePolicyService.open(config, logger.child({ component: 'enforce-policies' }));
  const cnetworkRules = CNetworkRuleService.open(config, logger.child({ component: 'cnetwork-rules' }));
  const plugins = createConfiguredPlugins(config, source, savedPolicies);
  // In-kernel STIDE filtering (pluginOptions.syscall.sequence: kernel): the detector drives the
  // kernel's per-image mode and known n-grams from each image's learning phase.
  const kernelSequence = kernelSequencePlugin(plugins);
  // The Collector needs the detector (its sink) and the detector the Collector's container resolver.
  let collector: Collector | null = null;
  const containers = { whenNamed: (c: ContainerInfo, ms: number) => collector?.containers.whenNamed?.(c, ms) ?? null };
  const managed = await createManagedDetector(config, source, logger, { kernelSequence, containers });
  const { detector } = managed;
  const alerts = new AlertStore(config.detector.alertBuffer);
  const format = config.format ?? (process.stdout.isTTY ? 'pretty' : 'ndjson');
  const printer = new AlertPrinter({ format });
  const detectorSink = new DetectorSink(detector);
  const onAlert = (alert: AlertEvent) => {
    alerts.add(alert);
    status?.clear();
    printer.write(alert);
  };
  // Enforcement events are alerts by themselves (runtime/enforce-alerts.ts says why not a rule).
  const enforce = enforcePlugin(plugins);
  const enforceAlerts = enforce ? new EnforceAlertSink(onAlert) : null;
  collector = new Collector({ plugins, sinks: enforceAlerts ? [detectorSink, enforceAlerts] : [detectorSink], logger });
  const showStatus = config.status === 'always' || (config.status === 'auto' && process.stderr.isTTY === true);
  const status = showStatus ? new StatusLine({ collector, detector, alerts: () => alerts.received }) : null;

  detector.on('alert', onAlert);

  await collector.start();
  for (const p of collector.pluginStates()) {
    if (p.state === 'running') logger.info({ plugin: p.name, variant: collector.stats().plugins[p.name]?.variant }, 'plugin running');
    else logger.warn({ plugin: p.name, state: p.state, err: p.error }, 'plugin not running; the others continue');
  }
  await cnetworkRules?.restoreInto(collector);
  const offContainers = collector.containers.onChange(({ kind, container }) => {
    if (kind === 'stop') detector.forgetContainer(container.id);
  });

  let api = null;
  try {
    api = await startApi(config, source, { collector, detector, alerts, cnetworkRules, enforce, enforcePolicies: savedPolicies }, logger);
  } catch (err) {
    await collector.stop();
    await managed.close();
    throw err;
  }

  const rules = detector.stats().rules.loaded;
  if (config.detector.models && !managed.resumed) {
    logger.info(
      { rules, learnFor: formatDuration(config.detector.learnMinutes * 60_000), modelsFile: managed.modelsFile },
      'first run: rules alert now; learned models watch each image for the learning period, then alert on deviations',
    );
  } else logger.info({ rules, models: config.detector.models ? 'resumed' : 'off' }, 'detecting');
  status?.start();

  const why = await waitForStop(logger, config.duration);
  await shutdown(logger, [
    ['status', () => status?.stop()],
    ['api', async () => void (await api?.close())],
    ['collector', () => collector.stop()],
    ['containers', () => offContainers()],
    ['detector', () => managed.close()],
  ]);
  const s = collector.stats();
  logger.info({ reason: why, events: s.events.total, detector: s.sinks.detector, alerts: alerts.received, lost: Object.fromEntries(Object.entries(s.plugins).map(([n, p]) => [n, p.lost])) }, 'stopped');
}
