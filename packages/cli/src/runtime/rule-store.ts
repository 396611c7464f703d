/**
 * The cnetwork banned-pair rules added through the control API, persisted so that they survive a
 * restart of `boxwatch agent` / `boxwatch run`. One JSON file, `<stateDir>/cnetwork-rules.json`
 * by default (next to models.json and api-token):
 *
 *   {"version": 1, "rules": [{"id": "web-db", "a": {"container": "web"}, "b": "10.0.0.5",
 *                             "description": "...", "source": "api", "addedAt": "2025-...Z"}]}
 *
 * Rules from the config file are not stored here (the config is their source of truth); every
 * entry has `source: "api"`. Every change rewrites the whole file atomically: a temp file in the
 * same directory, fsync, rename over the old one, fsync of the directory. A reader (or a crash at
 * any point) sees the old file or the new one, never a mix. A file that cannot be read or parsed is
 * an ERR_CONFIG naming the file and the problem, and is never overwritten.
 */
import { z } from 'zod';
import { isBoxwatchError } from '@boxwatch/core';
import { parseRule } from '@boxwatch/plugin-cnetwork';
import { readJsonStateFile, stateFileError, writeFileAtomic } from './state-file.js';

export const RULE_STORE_VERSION = 1;
export const RULE_STORE_FILE = 'cnetwork-rules.json';

const endpointSchema = z.union([
  z.string().min(1),
  z.object({ ip: z.string().min(1) }).strict(),
  z.object({ container: z.string().min(1) }).strict(),
]);

const storedRuleSchema = z
  .object({
    id: z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'must be 1-64 characters of A-Z a-z 0-9 _ . : -'),
    a: endpointSchema,
    b: endpointSchema,
    description: z.string().optional(),
    source: z.literal('api'),
    addedAt: z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'must be an ISO 8601 time'),
  })
  .strict();

const fileSchema = z
  .object({
    version: z.literal(RULE_STORE_VERSION, { message: `unsupported version (this boxwatch reads version ${RULE_STORE_VERSION})` }),
    rules: z.array(storedRuleSchema),
  })
  .strict()
  .superRefine((f, ctx) => {
    const seen = new Set<string>();
    f.rules.forEach((r, i) => {
      if (seen.has(r.id)) ctx.addIssue({ code: 'custom', path: ['rules', i, 'id'], message: `duplicate rule id '${r.id}'` });
      seen.add(r.id);
    });
  });

export type StoredEndpoint = z.infer<typeof endpointSchema>;
export type StoredRule = z.infer<typeof storedRuleSchema>;

export class RuleStore {
  private readonly rules = new Map<string, StoredRule>();

  private constructor(readonly file: string) {}

  /** Load the store (an absent file is an empty store). Throws ERR_CONFIG naming the file for anything unreadable. */
  static load(file: string): RuleStore {
    const store = new RuleStore(file);
    const data = readJsonStateFile(file, fileSchema, 'the cnetwork rule file');
    if (data === null) return store;
    data.rules.forEach((r, i) => {
      // The addresses and container names as the plugin will check them at restore.
      try {
        parseRule({ id: r.id, a: r.a, b: r.b, ...(r.description !== undefined ? { description: r.description } : {}) }, 'rule');
      } catch (err) {
        if (!isBoxwatchError(err, 'ERR_CONFIG')) throw err;
        const field = `rules[${i}]${(err.field ?? 'rule').replace(/^rule/, '')}`;
        throw stateFileError(file, err.message.replace(/^.*?: /, ''), field);
      }
      store.rules.set(r.id, r);
    });
    return store;
  }

  /** Stored rules in the order they were added. */
  list(): StoredRule[] {
    return [...this.rules.values()];
  }

  has(id: string): boolean {
    return this.rules.has(id);
  }

  get size(): number {
    return this.rules.size;
  }

  /** Add (or replace) a rule and write the file; on a write error the store is unchanged and the error is thrown. */
  put(rule: Omit<StoredRule, 'source' | 'addedAt'> & { addedAt?: string }): StoredRule {
    const stored: StoredRule = {
      id: rule.id,
      a: rule.a,
      b: rule.b,
      ...(rule.description !== undefined ? { description: rule.description } : {}),
      source: 'api',
      addedAt: rule.addedAt ?? new Date().toISOString(),
    };
    const previous = this.rules.get(rule.id);
    this.rules.set(rule.id, stored);
    try {
      this.write();
    } catch (err) {
      if (previous) this.rules.set(rule.id, previous);
      else this.rules.delete(rule.id);
      throw err;
    }
    return stored;
  }

  /** Remove a rule and write the file; false when there is none. On a write error the store is unchanged. */
  remove(id: string): boolean {
    const previous = this.rules.get(id);
    if (!previous) return false;
    const order = this.list();
    this.rules.delete(id);
    try {
      this.write();
    } catch (err) {
      this.rules.clear();
      for (const r of order) this.rules.set(r.id, r);
      throw err;
    }
    return true;
  }

  private write(): void {
    const body = { version: RULE_STORE_VERSION, rules: this.list() };
    writeFileAtomic(this.file, `${JSON.stringify(body, null, 2)}\n`);
  }
}
