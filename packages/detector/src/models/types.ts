import type { IEvent } from '@boxwatch/core';
import type { Priority } from '../rules/loader.js';

/** A departure from a learned profile, turned into an alert by the Detector. */
export interface Anomaly {
  /** Model name: `novelty`, `syscall-frequency`, `syscall-sequence`, `resource`. */
  model: string;
  /** What is anomalous, for deduplication (`exec:/tmp/x`, `cpu_percent`, …). */
  key: string;
  message: string;
  priority: Priority;
  tags: string[];
  event: IEvent;
  /** Numbers behind the decision (score, threshold, …), carried into the alert. */
  details?: Record<string, unknown>;
}

export type Report = (anomaly: Anomaly) => void;

/** learning: build the profile; validating: measure scores on held-out data to set thresholds; detecting: alert. */
export type Phase = 'learning' | 'validating' | 'detecting';
