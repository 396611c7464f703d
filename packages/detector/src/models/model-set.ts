/**
 * The learned models of every image, with their learning state, and their JSON persistence. Profiles
 * are keyed by image (`container.imageId ?? container.image ?? 'unknown'`) so a restarted container
 * keeps its profile; per-container runtime state (current interval, mismatch window) lives in the
 * model objects and is not persisted. Host processes (no container) are not modelled.
 */
import type { IEvent } from '@boxwatch/core';
import { BoxwatchError, containerKey as containerKeyOf, isBoxwatchError } from '@boxwatch/core';
import { advance, learningFraction, learningTimeLeft, newLearningState, type LearningOptions, type LearningState } from './learning.js';
import { newNoveltyProfile, noveltyFromJSON, noveltyToJSON, observeNovelty, type NoveltyJSON, type NoveltyProfile } from './novelty.js';
import { FrequencyModel, newFrequencyProfile, type FrequencyOptions, type FrequencyProfile } from './frequency.js';
import { StideModel, newStideProfile, type StideEncoding, type StideOptions, type StideProfile } from './stide.js';
import { ResourceModel, newResourceProfile, type ResourceOptions, type ResourceProfile } from './resource.js';
import { KernelStideBridge, KernelStideModel, type KernelSequenceControl } from './kernel-stide.js';
import type { Phase, Report } from './types.js';

/** 2: STIDE profiles carry `encoding` (packed10 keys). Version 1 files (FNV keys) still load, as encoding fnv. */
export const MODEL_FILE_VERSION = 2;

export interface ModelOptions {
  learning?: LearningOptions;
  frequency?: FrequencyOptions;
  stide?: StideOptions;
  resource?: ResourceOptions;
  /**
   * In-kernel STIDE filtering (docs/stide-kernel.md): the syscall plugin running with
   * `sequence: 'kernel'` (SyscallPlugin implements this). When given, each image's kernel mode and
   * known n-gram set follow its learning phase: learning → learn mode; validating → the learned
   * n-grams into the kernel, detect mode; detecting → the validation n-grams too.
   */
  kernelSequence?: KernelSequenceControl;
  /** Told about each kernel sequence step and problem (the Detector logs them). */
  onKernelSequence?: (note: KernelSequenceNote) => void;
}

/** What ModelSet did to the kernel sequence filter of an image. */
export type KernelSequenceNote =
  | { kind: 'mode'; image: string; phase: Phase; mode: 'learn' | 'detect'; knownNgrams: number; resync: boolean }
  | { kind: 'added'; image: string; phase: Phase; added: number; knownNgrams: number }
  | { kind: 'error'; image: string; phase: Phase; error: Error };

export interface KernelSequenceStats {
  /** Images whose kernel mode follows their phase. */
  images: number;
  /** Images whose kernel filter was switched off after an error. */
  failed: number;
  /** Re-syncs after the kernel was found out of step (plugin restarted, ...). */
  resyncs: number;
  /** Mismatch records for n-grams the profile knew (scored as matches). */
  staleMismatches: number;
  /** Learn counts ignored because the image was detecting. */
  lateNgrams: number;
  /** Events whose n differed from the model's. */
  wrongN: number;
}

export interface ImageProfile {
  image: string;
  learning: LearningState;
  novelty: NoveltyProfile;
  frequency: FrequencyProfile;
  stide: StideProfile;
  resource: ResourceProfile;
}

export interface ImageProgress {
  image: string;
  phase: Phase;
  fraction: number;
  timeLeftMs: number | null;
  events: number;
}

export function imageKey(event: IEvent): string | null {
  const c = event.container;
  if (!c) return null;
  return c.imageId ?? c.image ?? 'unknown';
}

interface ProfileJSON {
  image: string;
  learning: LearningState;
  novelty: NoveltyJSON;
  frequency: Omit<FrequencyProfile, 'samples'> & { samples?: Record<string, number>[] };
  stide: { n: number; encoding?: StideEncoding; window: number; threshold: number; ngrams: string[]; pending: string[] };
  resource: ResourceProfile;
}

export interface ModelsJSON {
  version: number;
  savedAt: string;
  profiles: ProfileJSON[];
}

/** Counter drains this long after a kernel step must report the step's mode (else the step is redone). */
const KERNEL_MODE_CHECK_MARGIN_MS = 1000;

export class ModelSet {
  private readonly profiles = new Map<string, ImageProfile>();
  /** The stream has process.exec events (see observe). */
  private processExecSeen = false;
  private readonly frequency: FrequencyModel;
  private readonly stide: StideModel;
  private readonly resource: ResourceModel;
  private readonly kernelStide: KernelStideModel;
  private readonly bridge: KernelStideBridge | null;
  /** Kernel sequence state per image: switched off after an error, retry time after ERR_STATE, time of the last sync. */
  private readonly kernelFailed = new Set<string>();
  private readonly kernelRetryAt = new Map<string, number>();
  private readonly kernelSyncedAt = new Map<string, number>();
  /** When the kernel of an image left learn mode (Date.now()): learn counts drained up to then are learning data. */
  private readonly kernelLearnEndedAt = new Map<string, number>();
  private kernelResyncs = 0;

  constructor(private readonly options: ModelOptions = {}) {
    this.frequency = new FrequencyModel(options.frequency);
    this.stide = new StideModel(options.stide);
    this.kernelStide = new KernelStideModel({ maxNgrams: options.stide?.maxNgrams });
    this.resource = new ResourceModel(options.resource);
    this.bridge = options.kernelSequence ? new KernelStideBridge(options.kernelSequence) : null;
  }

  get size(): number {
    return this.profiles.size;
  }

  profile(image: string): ImageProfile | undefined {
    return this.profiles.get(image);
  }

  observe(event: IEvent, report: Report): void {
    // Learn counts are per profile: the event names it (its header carries one container of it, or none).
    const named = event.type === 'syscall.ngrams' ? (event as unknown as { image?: unknown }).image : undefined;
    const image = typeof named === 'string' ? named : imageKey(event);
    if (image === null) return;
    const nowMs = event.time.getTime();
    let p = this.profiles.get(image);
    if (!p) {
      p = this.newProfile(image, nowMs);
      this.profiles.set(image, p);
    }
    const phase = advance(p.learning, this.options.learning ?? {}, nowMs, () => this.finish(p!));
    if (this.bridge) this.syncKernel(p, phase, false);
    const containerKey = containerKeyOf(event);
    switch (event.type) {
      case 'syscall.count':
        this.frequency.observe(p.frequency, containerKey, event, phase, report);
        return;
      case 'syscall.seq':
        this.stide.observe(p.stide, containerKey, event, phase, report);
        return;
      case 'syscall.ngrams':
        this.kernelNgrams(p, containerKey, event, phase, report);
        return;
      case 'syscall.seq_mismatch':
        if (event.container) this.kernelStide.observe(p.stide, containerKey, event, phase, report);
        return;
      case 'syscall.seq_stats':
        if (!event.container) return;
        if (this.bridge) this.checkKernelMode(p, event, phase);
        this.kernelStide.observe(p.stide, containerKey, event, phase, report);
        return;
      case 'resource.usage':
        this.resource.observe(p.resource, containerKey, event, phase, report);
        return;
      case 'process.exit':
        if (event.pid === event.tid) this.stide.forgetThread(event.tid);
        return;
      case 'process.exec':
        this.processExecSeen = true;
        observeNovelty(p.novelty, event, phase, report);
        return;
      case 'syscall.execve':
      case 'syscall.execveat':
        // The process.exec of the same exec follows (see ProcessTable): report the program from it,
        // with the process that runs it; only a stream without process.exec learns from these.
        if (!this.processExecSeen) observeNovelty(p.novelty, event, phase, report);
        return;
      default:
        observeNovelty(p.novelty, event, phase, report);
    }
  }

  /** Force the end of learning for every image (e.g. an operator says "this is normal"). */
  finishLearning(): void {
    for (const p of this.profiles.values()) {
      if (p.learning.phase === 'detecting') continue;
      p.learning.phase = 'detecting';
      p.learning.finishedMs = p.learning.lastMs;
      this.finish(p);
      if (this.bridge) this.syncKernel(p, 'detecting', false);
    }
  }

  kernelSequenceStats(): KernelSequenceStats | null {
    if (!this.bridge) return null;
    let images = 0;
    for (const image of this.profiles.keys()) if (this.bridge.phaseOf(image) !== undefined) images++;
    return {
      images,
      failed: this.kernelFailed.size,
      resyncs: this.kernelResyncs,
      staleMismatches: this.kernelStide.staleMismatches,
      lateNgrams: this.kernelStide.lateNgrams,
      wrongN: this.kernelStide.wrongN,
    };
  }

  progress(nowMs?: number): ImageProgress[] {
    const opts = this.options.learning ?? {};
    return [...this.profiles.values()].map((p) => ({
      image: p.image,
      phase: p.learning.phase,
      fraction: learningFraction(p.learning, opts, nowMs ?? p.learning.lastMs),
      timeLeftMs: learningTimeLeft(p.learning, opts, nowMs ?? p.learning.lastMs),
      events: p.learning.events,
    }));
  }

  forgetContainer(id: string): void {
    this.frequency.forgetContainer(id);
    this.resource.forgetContainer(id);
    this.kernelStide.forgetContainer(id);
  }

  toJSON(): ModelsJSON {
    return {
      version: MODEL_FILE_VERSION,
      savedAt: new Date().toISOString(),
      profiles: [...this.profiles.values()].map((p) => ({
        image: p.image,
        learning: p.learning,
        novelty: noveltyToJSON(p.novelty),
        // Learning samples are only needed until thresholds exist.
        frequency: p.frequency.trained ? { ...p.frequency, samples: [] } : p.frequency,
        stide: {
          n: p.stide.n,
          encoding: p.stide.encoding,
          window: p.stide.window,
          threshold: p.stide.threshold,
          ngrams: [...p.stide.ngrams].map(String),
          pending: [...p.stide.pending].map(String),
        },
        resource: p.resource,
      })),
    };
  }

  /** Replace all profiles with saved ones. Throws ERR_CONFIG for a file of another format. */
  load(json: ModelsJSON): void {
    if (!json || (json.version !== MODEL_FILE_VERSION && json.version !== 1) || !Array.isArray(json.profiles)) {
      throw new BoxwatchError('ERR_CONFIG', `model file: expected version ${MODEL_FILE_VERSION} (or 1) with a profiles array`, { field: 'version' });
    }
    this.profiles.clear();
    // Loaded profiles may be in another phase: the kernel is synced again on each image's next event.
    this.bridge?.forget();
    this.kernelFailed.clear();
    this.kernelRetryAt.clear();
    this.kernelSyncedAt.clear();
    this.kernelLearnEndedAt.clear();
    for (const j of json.profiles) {
      const p = this.newProfile(j.image, j.learning.startMs);
      p.learning = { ...j.learning };
      p.novelty = noveltyFromJSON(j.novelty);
      p.frequency = { ...newFrequencyProfile(), ...j.frequency, samples: j.frequency.samples ?? [] };
      // Version 1 keyed n-grams by FNV; keep using FNV for such a profile so its database stays valid.
      const encoding: StideEncoding = j.stide.encoding ?? 'fnv';
      p.stide = { n: j.stide.n, encoding, window: j.stide.window, threshold: j.stide.threshold, ngrams: new Set(j.stide.ngrams.map(Number)), pending: new Set(j.stide.pending.map(Number)) };
      p.resource = { ...newResourceProfile(), ...j.resource };
      this.profiles.set(p.image, p);
    }
  }

  private newProfile(image: string, nowMs: number): ImageProfile {
    return {
      image,
      learning: newLearningState(nowMs),
      novelty: newNoveltyProfile(),
      frequency: newFrequencyProfile(),
      stide: newStideProfile(this.options.stide),
      resource: newResourceProfile(),
    };
  }

  private finish(p: ImageProfile): void {
    this.frequency.finish(p.frequency);
    // Before StideModel.finish, which merges and clears `pending`: the kernel path needs the keys
    // that join the database, to put them into the kernel's known set too.
    const added = this.kernelStide.finish(p.stide);
    this.stide.finish(p.stide);
    this.resource.finish(p.resource);
    if (this.bridge && added.length > 0 && !this.kernelFailed.has(p.image) && this.bridge.phaseOf(p.image) !== undefined) {
      try {
        this.options.kernelSequence!.addKnownNgrams(p.image, added);
        this.options.onKernelSequence?.({ kind: 'added', image: p.image, phase: 'detecting', added: added.length, knownNgrams: p.stide.ngrams.size });
      } catch (err) {
        // The sync that follows (phase detecting) puts the whole set in again, or reports the problem.
        this.bridge.forget(p.image);
      }
    }
  }

  /** Keep the kernel filter of `p`'s image in step with its phase (KernelStideBridge), reporting problems. */
  private syncKernel(p: ImageProfile, phase: Phase, resync: boolean): void {
    const bridge = this.bridge!;
    const image = p.image;
    if (bridge.phaseOf(image) === phase || this.kernelFailed.has(image)) return;
    const retryAt = this.kernelRetryAt.get(image);
    const now = Date.now();
    if (retryAt !== undefined && now < retryAt) return;
    const before = bridge.phaseOf(image);
    try {
      const mode = bridge.sync(image, p.stide, phase);
      this.kernelRetryAt.delete(image);
      if (mode === 'detect' && before === 'learning') this.kernelLearnEndedAt.set(image, now);
      if (mode) {
        this.kernelSyncedAt.set(image, now);
        this.options.onKernelSequence?.({ kind: 'mode', image, phase, mode, knownNgrams: p.stide.ngrams.size, resync });
      }
    } catch (err) {
      // The plugin is not running (yet, or any more): try again a second later.
      if (isBoxwatchError(err, 'ERR_STATE')) {
        this.kernelRetryAt.set(image, now + 1000);
        return;
      }
      // Anything else (a profile with fnv keys, a full kernel map): no kernel filtering for this
      // image rather than a kernel left in learn mode or scoring against a partial set.
      this.kernelFailed.add(image);
      try {
        this.options.kernelSequence!.setSequenceMode(image, 'off');
      } catch {
        /* reported below */
      }
      this.options.onKernelSequence?.({ kind: 'error', image, phase, error: err as Error });
    }
  }

  /**
   * Learn counts: into the profile while learning or validating, and when drained up to a second after
   * the kernel left learn mode (learning data still, e.g. when learning ends without validation); after
   * learning, into the kernel's known set too.
   */
  private kernelNgrams(p: ImageProfile, containerKey: string, event: IEvent, phase: Phase, report: Report): void {
    const ended = this.kernelLearnEndedAt.get(p.image);
    const lateLearn = phase === 'detecting' && ended !== undefined && event.time.getTime() <= ended + KERNEL_MODE_CHECK_MARGIN_MS;
    if (phase === 'detecting' && !lateLearn) {
      this.kernelStide.observe(p.stide, containerKey, event, phase, report); // counted, ignored
      // A kernel counting in learn mode while the image detects is out of step (plugin restarted).
      if (this.bridge && !this.kernelFailed.has(p.image)) this.resync(p, phase);
      return;
    }
    const ngrams = (event as unknown as { ngrams?: Array<{ key: number }> }).ngrams ?? [];
    const fresh = phase !== 'learning' && this.bridge ? ngrams.map((x) => x.key).filter((k) => !p.stide.ngrams.has(k)) : [];
    this.kernelStide.observe(p.stide, containerKey, event, lateLearn ? 'validating' : phase, report);
    // Counts drained after the switch to detect mode were made in learn mode: the profile has them
    // now, so the kernel must too (else their records come back as mismatches, scored as matches).
    if (fresh.length > 0 && !this.kernelFailed.has(p.image) && this.bridge!.phaseOf(p.image) === phase) {
      try {
        this.options.kernelSequence!.addKnownNgrams(p.image, fresh.filter((k) => p.stide.ngrams.has(k)));
      } catch {
        this.bridge!.forget(p.image);
        this.syncKernel(p, phase, true);
      }
    }
  }

  /** A counter drain names the kernel's mode: one drained after our last sync must agree with the phase. */
  private checkKernelMode(p: ImageProfile, event: IEvent, phase: Phase): void {
    const mode = (event as unknown as { mode?: string }).mode;
    const image = p.image;
    if (this.kernelFailed.has(image) || this.bridge!.phaseOf(image) !== phase) return;
    const syncedAt = this.kernelSyncedAt.get(image);
    // A second of margin: the drain's time comes from the kernel clock, the sync's from Date.now().
    if (syncedAt === undefined || event.time.getTime() <= syncedAt + KERNEL_MODE_CHECK_MARGIN_MS) return;
    const expected = phase === 'learning' ? 'learn' : 'detect';
    if (mode !== expected) this.resync(p, phase);
  }

  private resync(p: ImageProfile, phase: Phase): void {
    this.kernelResyncs++;
    this.bridge!.forget(p.image);
    this.kernelRetryAt.delete(p.image);
    this.syncKernel(p, phase, true);
  }
}
