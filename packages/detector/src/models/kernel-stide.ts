/**
 * STIDE on top of in-kernel n-gram filtering (plugin-syscall `sequence: 'kernel'`, docs/stide-kernel.md).
 *
 * The kernel rolls each watched thread's last n syscall ids into the STIDE `packed10` key (the same
 * key `packNgram` gives, so a profile's `ngrams` set goes into the kernel map unchanged) and:
 *  - learn mode: counts n-grams per profile; `syscall.ngrams` events carry them here → profile.ngrams;
 *  - detect mode: looks each n-gram up in the profile's known set and writes a `syscall.seq_mismatch`
 *    record only for one that is missing, with `gap` = the matching n-grams the thread made since its
 *    previous mismatch record; per-container match counters arrive as `syscall.seq_stats`.
 *
 * The mismatch window is StideModel's (same W, same threshold, same alert-once-per-excursion rule and
 * message): per container, each mismatch record pushes its thread's `gap` matches and then one
 * mismatch; a `syscall.seq_stats` event pushes the container's matches that no record has accounted
 * for yet (matches_total − matches already pushed). A thread's n-grams therefore enter the window in
 * exactly the order the thread made them, which is what the userspace path does too (per thread); the
 * two paths interleave *different threads* differently (userspace: by 64-id record, here: by mismatch
 * record), which only matters when several threads of a container are busy at the same time.
 */
import type { IEvent } from '@boxwatch/core';
import { packNgram, pushNgram, type StideProfile } from './stide.js';
import type { Phase, Report } from './types.js';

export const KERNEL_STIDE_EVENT_TYPES = ['syscall.ngrams', 'syscall.seq_mismatch', 'syscall.seq_stats'] as const;

/** What the syscall plugin offers (SyscallPlugin implements it); kept structural so the detector does
 * not depend on the plugin package. */
export interface KernelSequenceControl {
  setSequenceMode(image: string, mode: 'off' | 'learn' | 'detect'): void;
  addKnownNgrams(image: string, keys: Iterable<number>): number;
}

/** The kernel map keys of a profile: its n-gram keys as they are (packed10 only: fnv keys are hashes
 * and cannot be turned back into ids). */
export function kernelKeysOf(profile: StideProfile, which: 'ngrams' | 'pending' = 'ngrams'): Iterable<number> {
  if (profile.encoding !== 'packed10') {
    throw new Error(`kernel sequence filtering needs packed10 n-gram keys (n ≤ 5); this profile uses ${profile.encoding} (n ${profile.n})`);
  }
  return profile[which];
}

/** The kernel's key of n ids: identical to packNgram (re-exported under the kernel's name). */
export const kernelNgramKey = packNgram;

interface KWindow {
  flags: Uint8Array;
  pos: number;
  mismatches: number;
  alerting: boolean;
  /** Matches pushed into the window so far (from gaps or counters). */
  applied: number;
  /** Sum of the gaps of the mismatch records seen. */
  gaps: number;
}

interface NgramsEvent {
  n: number;
  ngrams: Array<{ key: number; count: number }>;
}
interface MismatchEvent {
  ngram: number;
  gap: number;
  syscalls: number[];
}
interface StatsEvent {
  matches_total: number;
}

export class KernelStideModel {
  private readonly windows = new Map<string, KWindow>();
  private readonly maxNgrams: number;
  /** Events whose n differs from the profile's (misconfiguration: the kernel's n must equal the model's). */
  wrongN = 0;
  /** Mismatch records for n-grams the profile already knew (scored as matches). */
  staleMismatches = 0;
  /** `syscall.ngrams` events that arrived while the profile was detecting (ignored). */
  lateNgrams = 0;

  constructor(opts: { maxNgrams?: number } = {}) {
    this.maxNgrams = opts.maxNgrams ?? 200_000;
  }

  observe(profile: StideProfile, containerKey: string, event: IEvent, phase: Phase, report: Report): void {
    switch (event.type) {
      case 'syscall.ngrams': {
        // Never learn while detecting: learn counts then come from a kernel out of step with the
        // profile (e.g. the plugin restarted in its initial learn mode); ModelSet re-syncs it.
        if (phase === 'detecting') {
          this.lateNgrams++;
          return;
        }
        const e = event as unknown as NgramsEvent;
        if (e.n !== profile.n) {
          this.wrongN++;
          return;
        }
        // Counts drained after the profile left learning were made during learning (the kernel was
        // in learn mode until the switch); they are still learning data.
        for (const { key } of e.ngrams) if (profile.ngrams.size < this.maxNgrams) profile.ngrams.add(key);
        return;
      }
      case 'syscall.seq_mismatch': {
        if (phase === 'learning') return;
        const e = event as unknown as MismatchEvent;
        if (e.syscalls.length !== profile.n) {
          this.wrongN++;
          return;
        }
        const w = this.window(profile, containerKey);
        w.gaps += e.gap;
        if (w.gaps > w.applied) {
          this.matches(profile, w, w.gaps - w.applied);
          w.applied = w.gaps;
        }
        // A record for an n-gram the profile knows: the kernel's set was behind the profile (learn
        // counts drained after the switch to detect mode, validation n-grams added at the end of
        // learning while records were in flight). It is a match, as the userspace path scores it; it
        // is not in the kernel's match counter, so `applied` does not move.
        if (profile.ngrams.has(e.ngram)) {
          this.staleMismatches++;
          this.matches(profile, w, 1);
          return;
        }
        this.push(profile, w, 1, e.ngram, event, phase, report);
        return;
      }
      case 'syscall.seq_stats': {
        if (phase === 'learning') return;
        const e = event as unknown as StatsEvent;
        const w = this.window(profile, containerKey);
        if (e.matches_total > w.applied) {
          this.matches(profile, w, e.matches_total - w.applied);
          w.applied = e.matches_total;
        }
        return;
      }
    }
  }

  private window(profile: StideProfile, containerKey: string): KWindow {
    let w = this.windows.get(containerKey);
    if (!w || w.flags.length !== profile.window) {
      w = { flags: new Uint8Array(profile.window), pos: 0, mismatches: 0, alerting: false, applied: 0, gaps: 0 };
      this.windows.set(containerKey, w);
    }
    return w;
  }

  /** Push k matching n-grams. Only alerting state can change (a match never raises the count), and
   * after W matches the window is all zeros, so at most W steps are needed. */
  private matches(profile: StideProfile, w: KWindow, k: number): void {
    const len = w.flags.length;
    if (k >= len) {
      w.flags.fill(0);
      w.mismatches = 0;
      w.pos = (w.pos + k) % len;
      if (w.mismatches <= profile.threshold) w.alerting = false;
      return;
    }
    for (let i = 0; i < k; i++) {
      w.mismatches -= w.flags[w.pos]!;
      w.flags[w.pos] = 0;
      w.pos = (w.pos + 1) % len;
      if (w.mismatches <= profile.threshold) w.alerting = false;
    }
  }

  /** One n-gram: the same window step as StideModel's. */
  private push(profile: StideProfile, w: KWindow, miss: number, key: number, event: IEvent, phase: Phase, report: Report): void {
    pushNgram(profile, w, miss ? 1 : 0, key, event, phase, report);
  }

  /** A container is gone: drop its window. */
  forgetContainer(containerKey: string): void {
    this.windows.delete(containerKey);
  }

  /** Current window mismatch count of a container (for tests and stats). */
  windowMismatches(containerKey: string): number | undefined {
    return this.windows.get(containerKey)?.mismatches;
  }

  /** End of learning, as StideModel.finish: validation n-grams join the database, windows restart. */
  finish(profile: StideProfile): number[] {
    const added: number[] = [];
    for (const k of profile.pending) {
      if (profile.ngrams.size >= this.maxNgrams) break;
      if (!profile.ngrams.has(k)) added.push(k);
      profile.ngrams.add(k);
    }
    profile.pending.clear();
    this.windows.clear();
    return added;
  }
}

/**
 * Keeps the kernel's mode and known set of an image in step with its profile's phase:
 * learning → kernel learn mode; validating → the learned n-grams go into the kernel, detect mode
 * (validation is scored against the learning database, like the userspace path); detecting (after
 * `finish`) → the validation n-grams join the kernel's set too.
 */
export class KernelStideBridge {
  private readonly phases = new Map<string, Phase>();

  constructor(private readonly control: KernelSequenceControl) {}

  /**
   * Bring the kernel in step with `phase` when it changed since the last successful sync of `image`.
   * Returns the kernel mode set, or null when nothing was done. A call that throws is not recorded,
   * so the next one tries again.
   */
  sync(image: string, profile: StideProfile, phase: Phase): 'learn' | 'detect' | null {
    const before = this.phases.get(image);
    if (before === phase) return null;
    if (phase === 'learning') {
      this.control.setSequenceMode(image, 'learn');
      this.phases.set(image, phase);
      return 'learn';
    }
    this.control.addKnownNgrams(image, kernelKeysOf(profile, 'ngrams'));
    this.control.setSequenceMode(image, 'detect');
    this.phases.set(image, phase);
    return 'detect';
  }

  /** The phase last synced for `image` (undefined: never, or forgotten). */
  phaseOf(image: string): Phase | undefined {
    return this.phases.get(image);
  }

  /** Forget what was synced for `image` (the next sync does the whole step again), or for every image. */
  forget(image?: string): void {
    if (image === undefined) this.phases.clear();
    else this.phases.delete(image);
  }
}
