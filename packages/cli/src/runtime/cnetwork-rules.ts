/**
 * cnetwork banned-pair rules as the agent manages them: rules from the config file
 * (`pluginOptions.cnetwork.rules`, installed by the plugin at start) and rules added through the
 * control API, which are persisted in the rule store and re-applied into the kernel maps when the
 * agent starts again (and when the plugin is enabled again after a failure). Every listed rule says
 * where it came from: `source: "config" | "api"`.
 *
 * Changes are serialized: two concurrent POSTs cannot pick the same generated id, and the store is
 * written in the order the kernel map was changed. A rule is in the store exactly when the API
 * answered that it was added (a failed write rolls the kernel change back).
 */
import { join } from 'node:path';
import { BoxwatchError, type Collector, type Logger } from '@boxwatch/core';
import type { BannedPairInput, CNetworkPlugin, RuleView } from '@boxwatch/plugin-cnetwork';
import type { BoxwatchConfig } from '../config/schema.js';
import { RULE_STORE_FILE, RuleStore, type StoredEndpoint } from './rule-store.js';

export type RuleSource = 'config' | 'api';
export type SourcedRuleView = RuleView & { source: RuleSource };

export interface RuleInput {
  id?: string;
  a: StoredEndpoint;
  b: StoredEndpoint;
  description?: string;
}

export function ruleStorePath(config: BoxwatchConfig): string {
  return join(config.stateDir, RULE_STORE_FILE);
}

export class CNetworkRuleService {
  /** Ids of the rules this service put into the plugin (API rules); every other rule is from the config. */
  private readonly applied = new Set<string>();
  private queue: Promise<unknown> = Promise.resolve();

  /** `store` null: API rules live in memory only (a control API used without a state directory). */
  constructor(
    readonly store: RuleStore | null,
    private readonly logger: Logger,
  ) {}

  /** Load `<stateDir>/cnetwork-rules.json` when the cnetwork plugin is configured (ERR_CONFIG naming the file when it is corrupt). */
  static open(config: BoxwatchConfig, logger: Logger): CNetworkRuleService | null {
    if (!config.plugins.includes('cnetwork')) return null;
    return new CNetworkRuleService(RuleStore.load(ruleStorePath(config)), logger);
  }

  sourceOf(id: string): RuleSource {
    return this.applied.has(id) ? 'api' : 'config';
  }

  list(plugin: CNetworkPlugin): SourcedRuleView[] {
    return plugin.listRules().map((v) => ({ ...v, source: this.sourceOf(v.id) }));
  }

  /**
   * Put the stored API rules the plugin does not have into it (agent start, plugin re-enabled).
   * A rule whose id a config rule already uses, or that the plugin refuses, stays in the file and is
   * logged; it is not lost.
   */
  restore(plugin: CNetworkPlugin): Promise<{ applied: string[]; skipped: string[] }> {
    return this.serial(async () => {
      const applied: string[] = [];
      const skipped: string[] = [];
      if (!this.store) return { applied, skipped };
      const present = new Set(plugin.listRules().map((r) => r.id));
      for (const r of this.store.list()) {
        if (this.applied.has(r.id) && present.has(r.id)) continue; // still in the plugin (disable/enable keeps rules)
        if (present.has(r.id)) {
          skipped.push(r.id);
          this.logger.error({ file: this.store.file, rule: r.id }, 'saved cnetwork rule not applied: a rule from the config file has the same id (it stays in the file; change one of the ids)');
          continue;
        }
        try {
          await plugin.addRule({ id: r.id, a: r.a, b: r.b, ...(r.description !== undefined ? { description: r.description } : {}) }, { allowMissingContainers: true });
          this.applied.add(r.id);
          applied.push(r.id);
        } catch (err) {
          skipped.push(r.id);
          this.logger.error({ file: this.store.file, rule: r.id, err: (err as Error).message }, 'saved cnetwork rule not applied (it stays in the file)');
        }
      }
      return { applied, skipped };
    });
  }

  /** After collector.start(): restore into the plugin if it runs, else say when the rules will apply. */
  async restoreInto(collector: Collector): Promise<void> {
    const state = collector.pluginStates().find((p) => p.name === 'cnetwork');
    const saved = this.store?.size ?? 0;
    if (!state || saved === 0) return;
    if (state.state !== 'running') {
      this.logger.warn({ file: this.store!.file, rules: saved, state: state.state }, 'cnetwork plugin not running: saved API rules are applied when it is enabled');
      return;
    }
    const r = await this.restore(collector.plugin<CNetworkPlugin>('cnetwork')!);
    this.logger.info({ file: this.store!.file, applied: r.applied.length, skipped: r.skipped }, 'saved cnetwork rules applied');
  }

  /** Add a rule through the API: kernel map, then the store; a failed write removes it from the kernel again. */
  add(plugin: CNetworkPlugin, input: RuleInput): Promise<SourcedRuleView> {
    return this.serial(async () => {
      const id = input.id ?? this.freshId(plugin);
      const rule: BannedPairInput = { id, a: input.a, b: input.b, ...(input.description !== undefined ? { description: input.description } : {}) };
      const view = await plugin.addRule(rule);
      if (this.store) {
        try {
          this.store.put({ id, a: input.a, b: input.b, ...(input.description !== undefined ? { description: input.description } : {}) });
        } catch (err) {
          plugin.removeRule(id);
          throw new BoxwatchError('ERR_STATE', `cannot save the rule to ${this.store.file}: ${(err as Error).message}; the rule was not added`, { file: this.store.file, cause: err });
        }
      }
      this.applied.add(id);
      return { ...view, source: 'api' as const };
    });
  }

  /**
   * Remove a rule by id: an API rule leaves the store first (a failed write changes nothing), then
   * the kernel map. A config rule is removed until the next start. Null when there is no such rule.
   */
  remove(plugin: CNetworkPlugin, id: string): Promise<{ removed: string; source: RuleSource } | null> {
    return this.serial(async () => {
      const source = this.sourceOf(id);
      if (!plugin.listRules().some((r) => r.id === id)) return null;
      if (source === 'api' && this.store?.has(id)) this.store.remove(id);
      plugin.removeRule(id);
      this.applied.delete(id);
      return { removed: id, source };
    });
  }

  /** `api-<n>`: generated ids of API rules cannot collide with the plugin's `rule-<n>` for id-less config rules. */
  private freshId(plugin: CNetworkPlugin): string {
    const taken = new Set([...plugin.listRules().map((r) => r.id), ...(this.store?.list().map((r) => r.id) ?? [])]);
    let n = 1;
    while (taken.has(`api-${n}`)) n++;
    return `api-${n}`;
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }
}
