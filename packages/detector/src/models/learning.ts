/**
 * When an image's profile stops learning. Learning ends when every configured criterion is met
 * (time since the image's first event, and/or number of events). The last `validationFraction` of
 * the period is held out: models that set thresholds from "the worst score seen on normal data"
 * (sequence, frequency) score it against what they learned before it.
 */
import type { Phase } from './types.js';

export interface LearningOptions {
  /** Learning period in ms of event time (default 10 minutes when neither criterion is given). */
  learnMs?: number;
  /** Learning period in events of the image. */
  learnEvents?: number;
  /** Share of the period used for validation (default 0.3). */
  validationFraction?: number;
}

export interface LearningState {
  startMs: number;
  lastMs: number;
  events: number;
  phase: Phase;
  /** Event time learning ended (set when the phase becomes detecting). */
  finishedMs?: number;
}

export function newLearningState(nowMs: number): LearningState {
  return { startMs: nowMs, lastMs: nowMs, events: 0, phase: 'learning' };
}

/** Fraction of the learning period done, 0..1 (the slowest configured criterion). */
export function learningFraction(state: LearningState, opts: LearningOptions, nowMs = state.lastMs): number {
  if (state.phase === 'detecting') return 1;
  const learnMs = opts.learnMs ?? (opts.learnEvents === undefined ? 600_000 : undefined);
  let f = 1;
  if (learnMs !== undefined) f = Math.min(f, learnMs <= 0 ? 1 : (nowMs - state.startMs) / learnMs);
  if (opts.learnEvents !== undefined) f = Math.min(f, opts.learnEvents <= 0 ? 1 : state.events / opts.learnEvents);
  return Math.max(0, Math.min(1, f));
}

/** Time left (ms), or null when the period is event-count based only. */
export function learningTimeLeft(state: LearningState, opts: LearningOptions, nowMs = state.lastMs): number | null {
  if (state.phase === 'detecting') return 0;
  const learnMs = opts.learnMs ?? (opts.learnEvents === undefined ? 600_000 : undefined);
  if (learnMs === undefined) return null;
  return Math.max(0, state.startMs + learnMs - nowMs);
}

/** Count an event and return the phase it belongs to; `onFinish` runs once when learning completes. */
export function advance(state: LearningState, opts: LearningOptions, nowMs: number, onFinish: () => void): Phase {
  if (state.phase === 'detecting') return 'detecting';
  state.events++;
  if (nowMs > state.lastMs) state.lastMs = nowMs;
  const f = learningFraction(state, opts, state.lastMs);
  if (f >= 1) {
    state.phase = 'detecting';
    state.finishedMs = state.lastMs;
    onFinish();
    return 'detecting';
  }
  state.phase = f >= 1 - (opts.validationFraction ?? 0.3) ? 'validating' : 'learning';
  return state.phase;
}
