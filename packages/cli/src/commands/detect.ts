/**
 * `boxwatch detect`: the detector as a service. Events come from Kafka as a consumer group (detectors
 * with the same group split the partitions; events are keyed by host+container so a container's state
 * stays on one detector). Alerts go to stdout, Kafka `<prefix>.alerts`, GET /v1/alerts and the SSE stream.
 * Enforcement events (`<prefix>.enforce`) become alerts on the path `boxwatch run` uses for them.
 */
import { createLogger, type Sink } from '@boxwatch/core';
import { AlertPrinter, DetectorSink, type AlertEvent } from '@boxwatch/detector';
import { EVENT_FAMILIES, KafkaSink, KafkaSource } from '@boxwatch/sink-kafka';
import type { LoadedConfig } from '../config/load.js';
import { createManagedDetector } from '../runtime/detector.js';
import { EnforceAlertSink } from '../runtime/enforce-alerts.js';
import { AlertStore } from '../runtime/alert-store.js';
import { startApi } from '../runtime/api.js';
import { shutdown, waitForStop } from '../runtime/lifecycle.js';
import { kafkaOptions } from './agent.js';

export async function detect({ config, source }: LoadedConfig): Promise<void> {
  const logger = createLogger({ level: config.logLevel });
  const managed = await createManagedDetector(config, source, logger);
  const { detector } = managed;
  const alerts = new AlertStore(config.detector.alertBuffer);
  const printer = new AlertPrinter({ format: config.format ?? (process.stdout.isTTY ? 'pretty' : 'ndjson') });
  const alertSink: Sink | null = config.detector.alertsToKafka ? kafkaOptions(config, source, 'sink', (o) => new KafkaSink(o as never), { logger, clientId: 'boxwatch-detector-alerts' }) : null;
  // Never read our own alerts back in.
  const families = EVENT_FAMILIES.filter((f) => f !== 'alert');
  const kafkaSource = kafkaOptions(config, source, 'source', (o) => new KafkaSource(o as never), {
    logger,
    groupId: config.kafka.groupId,
    fromBeginning: config.kafka.fromBeginning,
    families,
  });

  const onAlert = (alert: AlertEvent) => {
    alerts.add(alert);
    printer.write(alert);
    alertSink?.write(alert);
  };
  detector.on('alert', onAlert);
  // The agent's kernel already decided these; they become alerts without a rule, as in `run`.
  const enforceAlerts = new EnforceAlertSink(onAlert);

  await alertSink?.start?.();
  const api = await startApi(
    config,
    source,
    {
      detector,
      alerts,
      extraStats: () => ({ source: kafkaSource.stats(), enforceAlerts: enforceAlerts.stats(), ...(alertSink ? { alertSink: alertSink.stats() } : {}) }),
      extraCounters: () => {
        const s = kafkaSource.stats();
        return { consumed: s.consumed, decode_error: s.decodeErrors, handler_error: s.handlerErrors };
      },
    },
    logger,
  ).catch(async (err: unknown) => {
    await alertSink?.close();
    throw err;
  });
  // Through the same queue as `run`: it restores time order across the per-family topics (a
  // process's connect and exec travel in different topics) and bounds the detector's slices.
  // Offsets are committed once an event is queued; the detector's state is in memory, so a crash
  // loses it either way.
  const detectorSink = new DetectorSink(detector);
  await kafkaSource.start({
    onEvent: (event) => {
      detectorSink.write(event);
      enforceAlerts.write(event);
    },
  });
  logger.info({ groupId: config.kafka.groupId, topics: kafkaSource.topics, rules: detector.stats().rules.loaded }, 'detector consuming');

  const why = await waitForStop(logger, config.duration);
  await shutdown(logger, [
    ['source', () => kafkaSource.stop()],
    ['detector queue', () => detectorSink.close()],
    ['detector', () => managed.close()],
    ['enforce alerts', () => enforceAlerts.close()],
    ['alert sink', async () => void (await alertSink?.close())],
    ['api', async () => void (await api?.close())],
  ]);
  logger.info({ reason: why, consumed: kafkaSource.stats().consumed, alerts: alerts.received }, 'stopped');
}
