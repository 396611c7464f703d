/**
 * Prometheus metrics. Values are read from Collector.stats() / Detector.stats() when scraped
 * (prom-client collect callbacks), so nothing on the event path pays for metrics. Monotonic totals
 * are exposed as counters: each scrape adds the growth since the previous scrape.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Collector, RingBufferStats } from '@boxwatch/core';
import type { Detector } from '@boxwatch/detector';
import type { AlertStore } from '../runtime/alert-store.js';

export interface MetricsSources {
  collector?: Collector;
  detector?: Detector;
  alerts?: AlertStore;
  /** Extra numbers (e.g. the Kafka source's consumed count) as `name → value` counters. */
  extraCounters?: () => Record<string, number>;
}

/** Turns absolute totals into counter increments (counters may only go up; a reset restarts from 0). */
class DeltaCounter {
  private readonly last = new Map<string, number>();
  constructor(private readonly counter: Counter<string>) {}
  set(labels: Record<string, string>, total: number): void {
    const key = JSON.stringify(labels);
    const prev = this.last.get(key) ?? 0;
    const delta = total >= prev ? total - prev : total;
    this.last.set(key, total);
    this.counter.inc(labels, delta);
  }
}

export function createMetrics(src: MetricsSources): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'boxwatch_process_' });

  if (src.collector) {
    const c = src.collector;
    // Registered first: prom-client scrapes in registration order, and this collect() feeds the counters below.
    new Gauge({
      name: 'boxwatch_containers_watched',
      help: 'Running containers known to the agent',
      registers: [registry],
      collect() {
        const s = c.stats();
        this.set(s.containers);
        unattributed.set({}, s.unattributedEvents);
        const k = (s.containerSource as { kernelNames?: { recorded?: number; failed?: number } } | undefined)?.kernelNames;
        kernelNamesUp.set(k && typeof k.recorded === 'number' ? 1 : 0);
        if (k && typeof k.recorded === 'number') {
          kernelNames.set({ outcome: 'recorded' }, k.recorded);
          kernelNames.set({ outcome: 'failed' }, k.failed ?? 0);
        }
        for (const [name, p] of Object.entries(s.plugins)) {
          events.set({ plugin: name }, p.events);
          lost.set({ plugin: name }, p.lost);
          up.set({ plugin: name }, p.state === 'running' ? 1 : 0);
          // BPF plugins report their readers under `ringBuffers` (map name → stats).
          for (const [ring, r] of Object.entries((p.ringBuffers ?? {}) as Record<string, RingBufferStats>)) {
            stagingFull.set({ plugin: name, ring }, r.stagingFull);
            realtimeDrain.set({ plugin: name, ring }, r.realtimeDrain ? 1 : 0);
          }
        }
        for (const [type, n] of Object.entries(s.events.byType)) byType.set({ type }, n);
        for (const [name, k] of Object.entries(s.sinks)) {
          sinkOut.set({ sink: name, outcome: 'received' }, k.received);
          sinkOut.set({ sink: name, outcome: 'delivered' }, k.delivered);
          sinkOut.set({ sink: name, outcome: 'dropped' }, k.dropped);
          sinkOut.set({ sink: name, outcome: 'error' }, k.errors + k.writeErrors);
          sinkQueue.set({ sink: name }, k.queued);
        }
      },
    });
    const unattributed = new DeltaCounter(new Counter({ name: 'boxwatch_unattributed_events_total', help: 'Events of tasks in a container (own pid namespace) whose container id could not be found (container: { id: null, unresolved: true })', registers: [registry] }));
    const kernelNames = new DeltaCounter(new Counter({ name: 'boxwatch_kernel_cgroup_names_total', help: 'Cgroups the kernel cgroup-name table recorded, or failed to record', labelNames: ['outcome'], registers: [registry] }));
    const kernelNamesUp = new Gauge({ name: 'boxwatch_kernel_cgroup_names_up', help: '1 when containers are named from the kernel cgroup-name table', registers: [registry] });
    const events = new DeltaCounter(new Counter({ name: 'boxwatch_plugin_events_total', help: 'Events emitted by each plugin', labelNames: ['plugin'], registers: [registry] }));
    const lost = new DeltaCounter(new Counter({ name: 'boxwatch_plugin_lost_events_total', help: 'Events the kernel could not hand over (ring buffer full), per plugin', labelNames: ['plugin'], registers: [registry] }));
    const byType = new DeltaCounter(new Counter({ name: 'boxwatch_events_total', help: 'Events routed by the collector, by type', labelNames: ['type'], registers: [registry] }));
    const sinkOut = new DeltaCounter(new Counter({ name: 'boxwatch_sink_events_total', help: 'Events per sink by outcome', labelNames: ['sink', 'outcome'], registers: [registry] }));
    const sinkQueue = new Gauge({ name: 'boxwatch_sink_queue_depth', help: 'Events waiting in a sink queue', labelNames: ['sink'], registers: [registry] });
    const stagingFull = new DeltaCounter(new Counter({ name: 'boxwatch_ring_buffer_staging_full_total', help: 'Times the JS side fell a whole staging buffer behind a ring buffer (records then wait in the kernel ring)', labelNames: ['plugin', 'ring'], registers: [registry] }));
    const realtimeDrain = new Gauge({ name: 'boxwatch_ring_buffer_realtime_drain', help: '1 when the ring buffer drain thread runs at real-time priority (SCHED_FIFO)', labelNames: ['plugin', 'ring'], registers: [registry] });
    const up = new Gauge({ name: 'boxwatch_plugin_up', help: '1 when the plugin is running', labelNames: ['plugin'], registers: [registry] });
  }

  if (src.detector) {
    const d = src.detector;
    new Gauge({
      name: 'boxwatch_detector_learning_fraction',
      help: 'Learning progress of the least advanced image (1 = every image detecting)',
      registers: [registry],
      collect() {
        const s = d.stats();
        ingested.set({}, s.events);
        ruleMatches.set({}, s.rules.matches);
        anomalies.set({}, s.models.anomalies);
        this.set(d.progress().fraction);
      },
    });
    const ingested = new DeltaCounter(new Counter({ name: 'boxwatch_detector_events_total', help: 'Events the detector processed', registers: [registry] }));
    const ruleMatches = new DeltaCounter(new Counter({ name: 'boxwatch_detector_rule_matches_total', help: 'Rule condition matches', registers: [registry] }));
    const anomalies = new DeltaCounter(new Counter({ name: 'boxwatch_detector_anomalies_total', help: 'Model anomalies', registers: [registry] }));
  }

  if (src.alerts) {
    const a = src.alerts;
    new Gauge({
      name: 'boxwatch_alerts_retained',
      help: 'Alerts held for GET /v1/alerts',
      registers: [registry],
      collect() {
        alerts.set({}, a.received);
        this.set(a.size);
      },
    });
    const alerts = new DeltaCounter(new Counter({ name: 'boxwatch_alerts_total', help: 'Alerts emitted (including count updates of deduplicated alerts)', registers: [registry] }));
  }

  if (src.extraCounters) {
    const get = src.extraCounters;
    new Gauge({
      name: 'boxwatch_source_up',
      help: '1 while the event source runs',
      registers: [registry],
      collect() {
        for (const [k, v] of Object.entries(get())) extra.set({ outcome: k }, v);
        this.set(1);
      },
    });
    const extra = new DeltaCounter(new Counter({ name: 'boxwatch_source_events_total', help: 'Events consumed from the source, by outcome', labelNames: ['outcome'], registers: [registry] }));
  }
  return registry;
}
