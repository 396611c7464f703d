/**
 * Loads rule files, compiles them into a RuleSet and reloads on change. A reload builds a complete new
 * RuleSet and replaces the reference in one assignment: events being evaluated (synchronously, on the
 * same thread) always see either the old or the new set, never a half-built one, and none are dropped.
 */
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BoxwatchError, silentLogger, type Logger } from '@boxwatch/core';
import { parseRuleText, type ParsedFile } from './loader.js';
import { compileRuleSet, type RuleSet } from './ruleset.js';
import { configError } from '@boxwatch/core';

/** Path of the default rule set shipped in this package. */
export function defaultRulesPath(): string {
  // src/rules/engine.ts and dist/index.js are both two levels below the package's rules/ folder... almost:
  // dist/ is one level down, src/rules/ two, so try both.
  const candidates = [new URL('../../rules/default.yaml', import.meta.url), new URL('../rules/default.yaml', import.meta.url)];
  for (const url of candidates) {
    try {
      readFileSync(url);
      return fileURLToPath(url);
    } catch {
      /* try the next layout */
    }
  }
  return fileURLToPath(candidates[0]!);
}

export interface RuleSource {
  /** Shown in errors; for files, the path. */
  file: string;
  /** Inline text (tests, embedded rules); files are read from disk when absent. */
  text?: string;
}

export interface RuleEngineOptions {
  sources: readonly (string | RuleSource)[];
  /** Reload when a rule file changes (default false). */
  watch?: boolean;
  /** Debounce for file-change reloads in ms (editors write files in several steps). */
  reloadDelayMs?: number;
  logger?: Logger;
  /**
   * Rule names switched off at run time from the start (e.g. saved by a previous run); applied to
   * the first compiled set, so no event ever sees them on. Names no file defines are kept.
   */
  disabled?: readonly string[];
  /** Called after every (re)load with the problems found (empty when clean). */
  onLoad?: (ruleset: RuleSet, errors: readonly BoxwatchError[]) => void;
}

export class RuleEngine {
  private ruleset: RuleSet;
  private readonly sources: RuleSource[];
  private readonly logger: Logger;
  /** Last readable parse of each file: a file saved half-written keeps its previous rules. */
  private readonly lastGood = new Map<string, ParsedFile>();
  private watchers: FSWatcher[] = [];
  private reloadTimer: NodeJS.Timeout | null = null;
  private reloads = 0;
  private closed = false;
  /** Switched off at run time; survives reloads (it is applied to every compiled set). */
  private runtimeDisabled: ReadonlySet<string>;

  constructor(private readonly options: RuleEngineOptions) {
    this.sources = options.sources.map((s) => (typeof s === 'string' ? { file: s } : s));
    this.logger = options.logger ?? silentLogger;
    this.runtimeDisabled = new Set(options.disabled ?? []);
    this.ruleset = this.compile();
    if (options.watch) this.startWatching();
  }

  /** The rule set in force. */
  get current(): RuleSet {
    return this.ruleset;
  }

  get reloadCount(): number {
    return this.reloads;
  }

  /** Re-read every source and swap in the new set. Returns the new set's problems. */
  reload(): readonly BoxwatchError[] {
    const next = this.compile();
    this.ruleset = next; // the atomic swap
    this.reloads++;
    return next.errors;
  }

  /**
   * Switch a rule off or on at run time, for every event evaluated after the call (the new set is
   * swapped in with one assignment, like a reload, but nothing is recompiled).
   *
   * Only rules their file enables can be switched: a rule `enabled: false` in its file is refused
   * (ERR_STATE) either way, since the file is where it was turned off. A name the run-time set
   * holds but no file defines any more (renamed, removed) can be switched on, which just forgets it.
   * Any other unknown name is ERR_NOT_FOUND naming the rule.
   *
   * `persist` gets the new set of names before it takes effect; when it throws, nothing changes.
   * Returns the set in force afterwards.
   */
  setEnabled(name: string, enabled: boolean, persist?: (disabled: readonly string[]) => void): RuleSet {
    const set = this.ruleset;
    const loaded = set.loaded.some((r) => r.name === name);
    if (!loaded && !this.runtimeDisabled.has(name)) {
      if (set.disabled.includes(name)) {
        throw new BoxwatchError('ERR_STATE', `rule '${name}' is disabled in its rule file (enabled: false); edit the file to switch it on`, { field: 'name' });
      }
      throw new BoxwatchError('ERR_NOT_FOUND', `no rule named '${name}' is loaded`, { field: 'name' });
    }
    if (this.runtimeDisabled.has(name) === !enabled) return set;
    const next = new Set(this.runtimeDisabled);
    if (enabled) next.delete(name);
    else next.add(name);
    persist?.([...next]);
    this.runtimeDisabled = next;
    this.ruleset = set.withRuntimeDisabled(next); // the atomic swap
    this.logger.info({ rule: name, enabled }, enabled ? 'rule switched on' : 'rule switched off');
    return this.ruleset;
  }

  close(): void {
    this.closed = true;
    for (const w of this.watchers) w.close();
    this.watchers = [];
    if (this.reloadTimer) clearTimeout(this.reloadTimer);
    this.reloadTimer = null;
  }

  private compile(): RuleSet {
    const parsed: ParsedFile[] = [];
    const readErrors: BoxwatchError[] = [];
    for (const src of this.sources) {
      let text = src.text;
      if (text === undefined) {
        try {
          text = readFileSync(src.file, 'utf8');
        } catch (err) {
          readErrors.push(configError('file', `cannot read rule file: ${(err as Error).message}`, { file: src.file }));
          const prev = this.lastGood.get(src.file);
          if (prev) parsed.push({ ...prev, errors: [] });
          continue;
        }
      }
      const p = parseRuleText(text, src.file);
      if (p.unreadable && this.lastGood.has(src.file)) {
        // Keep serving the previous version of this file, but report why the new one was refused.
        parsed.push({ ...this.lastGood.get(src.file)!, errors: p.errors });
        continue;
      }
      if (!p.unreadable) this.lastGood.set(src.file, p);
      parsed.push(p);
    }
    parsed.unshift({ file: '', items: [], errors: readErrors, unreadable: false });
    const set = compileRuleSet(parsed, this.runtimeDisabled);
    for (const e of set.errors) this.logger.warn({ code: e.code, file: e.file, line: e.line }, e.message);
    this.logger.info({ rules: set.rules.length, errors: set.errors.length }, 'rules loaded');
    this.options.onLoad?.(set, set.errors);
    return set;
  }

  private startWatching(): void {
    for (const src of this.sources) if (src.text === undefined) this.watchFile(src.file);
  }

  private watchFile(file: string): void {
    if (this.closed) return;
    try {
      // Editors that save by writing a new file and renaming it end this watch: re-arm on 'rename'.
      const w = watch(file, { persistent: false }, (kind) => {
        this.scheduleReload();
        if (kind === 'rename') {
          w.close();
          this.watchers = this.watchers.filter((x) => x !== w);
          const t = setTimeout(() => this.watchFile(file), this.options.reloadDelayMs ?? 100);
          t.unref?.();
        }
      });
      this.watchers.push(w);
    } catch (err) {
      this.logger.warn({ file, err: (err as Error).message }, 'cannot watch rule file');
    }
  }

  private scheduleReload(): void {
    if (this.reloadTimer) clearTimeout(this.reloadTimer);
    this.reloadTimer = setTimeout(() => {
      this.reloadTimer = null;
      this.reload();
    }, this.options.reloadDelayMs ?? 100);
    this.reloadTimer.unref?.();
  }
}
