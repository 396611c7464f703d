/**
 * The learned models of every image, with their learning state, and their JSON persistence. Profiles
 * are keyed by image (`container.imageId ?? container.image ?? 'unknown'`) so a restarted container
 * keeps its profile; per-container runtime state (current interval, mismatch window) lives in the
 * model objects and is not persisted. Host processes (no container) are not modelled.
 */
import type { IEvent } from '@boxwatch/core';
import { BoxwatchError } from '@boxwatch/core';
import { advance, learningFraction, learningTimeLeft, newLearningState, type LearningOptions, type LearningState } from './learning.js';
import { newNoveltyProfile, noveltyFromJSON, noveltyToJSON, observeNovelty, type NoveltyJSON, type NoveltyProfile } from './novelty.js';
import { FrequencyModel, newFrequencyProfile, type FrequencyOptions, type FrequencyProfile } from './frequency.js';
import { StideModel, newStideProfile, type StideEncoding, type StideOptions, type StideProfile } from './stide.js';
import { ResourceModel, newResourceProfile, type ResourceOptions, type ResourceProfile } from './resource.js';
import type { Phase, Report } from './types.js';

/** 2: STIDE profiles carry `encoding` (packed10 keys). Version 1 files (FNV keys) still load, as encoding fnv. */
export const MODEL_FILE_VERSION = 2;

export interface ModelOptions {
  learning?: LearningOptions;
  frequency?: FrequencyOptions;
  stide?: StideOptions;
  resource?: ResourceOptions;
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

export class ModelSet {
  private readonly profiles = new Map<string, ImageProfile>();
  private readonly frequency: FrequencyModel;
  private readonly stide: StideModel;
  private readonly resource: ResourceModel;

  constructor(private readonly options: ModelOptions = {}) {
    this.frequency = new FrequencyModel(options.frequency);
    this.stide = new StideModel(options.stide);
    this.resource = new ResourceModel(options.resource);
  }

  get size(): number {
    return this.profiles.size;
  }

  profile(image: string): ImageProfile | undefined {
    return this.profiles.get(image);
  }

  observe(event: IEvent, report: Report): void {
    const image = imageKey(event);
    if (image === null) return;
    const nowMs = event.time.getTime();
    let p = this.profiles.get(image);
    if (!p) {
      p = this.newProfile(image, nowMs);
      this.profiles.set(image, p);
    }
    const phase = advance(p.learning, this.options.learning ?? {}, nowMs, () => this.finish(p!));
    const containerKey = event.container!.id;
    switch (event.type) {
      case 'syscall.count':
        this.frequency.observe(p.frequency, containerKey, event, phase, report);
        return;
      case 'syscall.seq':
        this.stide.observe(p.stide, containerKey, event, phase, report);
        return;
      case 'resource.usage':
        this.resource.observe(p.resource, containerKey, event, phase, report);
        return;
      case 'process.exit':
        if (event.pid === event.tid) this.stide.forgetThread(event.tid);
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
    }
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
    this.stide.finish(p.stide);
    this.resource.finish(p.resource);
  }
}
