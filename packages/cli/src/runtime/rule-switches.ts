/**
 * Detector rules switched off through the control API, persisted so that they stay off across a
 * restart of `boxwatch run` / `boxwatch detect`. One JSON file, `<stateDir>/rules-disabled.json`:
 *
 *   {"version": 1, "disabled": [{"name": "Read sensitive file", "at": "2026-...Z"}]}
 *
 * Only what the API changed is stored: a rule's own `enabled:` in its file stays the file's
 * business. Written like cnetwork-rules.json (atomic rename, mode 0600); a file that cannot be read
 * or parsed is an ERR_CONFIG naming the file and the field, and is never overwritten.
 */
import { join } from 'node:path';
import { z } from 'zod';
import type { BoxwatchConfig } from '../config/schema.js';
import { readJsonStateFile, writeFileAtomic } from './state-file.js';

export const RULE_SWITCHES_VERSION = 1;
export const RULE_SWITCHES_FILE = 'rules-disabled.json';

const entrySchema = z
  .object({
    name: z.string().min(1, 'must be a rule name'),
    at: z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'must be an ISO 8601 time'),
  })
  .strict();

const fileSchema = z
  .object({
    version: z.literal(RULE_SWITCHES_VERSION, { message: `unsupported version (this boxwatch reads version ${RULE_SWITCHES_VERSION})` }),
    disabled: z.array(entrySchema),
  })
  .strict()
  .superRefine((f, ctx) => {
    const seen = new Set<string>();
    f.disabled.forEach((e, i) => {
      if (seen.has(e.name)) ctx.addIssue({ code: 'custom', path: ['disabled', i, 'name'], message: `duplicate rule name '${e.name}'` });
      seen.add(e.name);
    });
  });

export type RuleSwitch = z.infer<typeof entrySchema>;

export function ruleSwitchesPath(config: BoxwatchConfig): string {
  return join(config.stateDir, RULE_SWITCHES_FILE);
}

export class RuleSwitchStore {
  private entries = new Map<string, RuleSwitch>();

  private constructor(readonly file: string) {}

  /** An absent file is an empty store; anything unreadable throws ERR_CONFIG naming the file and field. */
  static load(file: string): RuleSwitchStore {
    const store = new RuleSwitchStore(file);
    const data = readJsonStateFile(file, fileSchema, 'the disabled-rules file');
    if (data === null) return store;
    for (const e of data.disabled) store.entries.set(e.name, e);
    return store;
  }

  /** Rule names switched off, in the order they were switched. */
  names(): string[] {
    return [...this.entries.keys()];
  }

  /** When the API switched `name` off (undefined when it did not). */
  since(name: string): string | undefined {
    return this.entries.get(name)?.at;
  }

  /**
   * Make the file hold exactly `names` (earlier entries keep their time). Throws when the file
   * cannot be written, with the store unchanged: the caller then leaves the rule as it was.
   */
  save(names: readonly string[]): void {
    const now = new Date().toISOString();
    const next = new Map(names.map((name) => [name, this.entries.get(name) ?? { name, at: now }]));
    const body = { version: RULE_SWITCHES_VERSION, disabled: [...next.values()] };
    try {
      writeFileAtomic(this.file, `${JSON.stringify(body, null, 2)}\n`);
    } catch (err) {
      throw new Error(`cannot save ${this.file}: ${(err as Error).message}`, { cause: err });
    }
    this.entries = next;
  }
}
