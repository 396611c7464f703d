/**
 * Reads rule files: a YAML sequence of `rule`, `list` and `macro` items (Falco's layout), validated with
 * zod, every item and key carrying its line number so errors can say `file:line`.
 */
import { LineCounter, parseDocument, isMap, isScalar, isSeq, type Node, type Pair } from 'yaml';
import { z } from 'zod';
import { configError, type BoxwatchError } from '@boxwatch/core';

export const PRIORITIES = ['emergency', 'alert', 'critical', 'error', 'warning', 'notice', 'informational', 'debug'] as const;
export type Priority = (typeof PRIORITIES)[number];

/** Falco spellings (`WARNING`, `INFO`) are accepted and normalised to lower-case names. */
export function normalisePriority(p: string): Priority | null {
  const s = p.toLowerCase();
  if (s === 'info') return 'informational';
  if (s === 'warn') return 'warning';
  return (PRIORITIES as readonly string[]).includes(s) ? (s as Priority) : null;
}

const priority = z.string().refine((s) => normalisePriority(s) !== null, { message: `priority must be one of ${PRIORITIES.join(', ')}` });
const nonEmpty = z.string().min(1);

const RuleSchema = z.strictObject({
  rule: nonEmpty,
  desc: z.string().optional(),
  condition: nonEmpty,
  output: nonEmpty,
  priority,
  tags: z.array(z.string()).optional(),
  enabled: z.boolean().optional(),
  /** Exceptions are CEL conditions; the rule does not fire when any of them holds. */
  exceptions: z.array(z.strictObject({ name: nonEmpty, condition: nonEmpty })).optional(),
  /** Event types the rule applies to; inferred from `evt.type` tests in the condition when absent. */
  events: z.array(nonEmpty).optional(),
  /** Falco's event source; accepted for compatibility, only `syscall` (the default) is meaningful here. */
  source: z.string().optional(),
});

const ListSchema = z.strictObject({
  list: nonEmpty,
  items: z.array(z.union([z.string(), z.number()])),
  append: z.boolean().optional(),
});

const MacroSchema = z.strictObject({
  macro: nonEmpty,
  condition: nonEmpty,
});

export type RuleItem = z.infer<typeof RuleSchema>;
export type ListItem = z.infer<typeof ListSchema>;
export type MacroItem = z.infer<typeof MacroSchema>;

interface Located {
  file: string;
  line: number;
  /** Line of each key's value, for errors about one field. */
  keyLines: Record<string, number>;
}

export type ParsedItem =
  | ({ kind: 'rule'; item: RuleItem } & Located)
  | ({ kind: 'list'; item: ListItem } & Located)
  | ({ kind: 'macro'; item: MacroItem } & Located);

export interface ParsedFile {
  file: string;
  items: ParsedItem[];
  errors: BoxwatchError[];
  /** True when the YAML itself could not be read (nothing from the file is usable). */
  unreadable: boolean;
}

/** Top-level keys Falco files may carry that mean nothing here. */
const IGNORED_TOP_KEYS = new Set(['required_engine_version', 'required_plugin_versions']);

export function parseRuleText(text: string, file: string): ParsedFile {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  const lineOf = (node: Node | null | undefined): number => (node?.range ? lineCounter.linePos(node.range[0]).line : 1);
  if (doc.errors.length > 0) {
    const errors = doc.errors.map((e) =>
      configError('yaml', e.message.split('\n')[0]!, { file, line: lineCounter.linePos(e.pos[0]).line, column: lineCounter.linePos(e.pos[0]).col }),
    );
    return { file, items: [], errors, unreadable: true };
  }
  const root = doc.contents;
  if (root === null || (isScalar(root) && (root.value === null || root.value === undefined))) return { file, items: [], errors: [], unreadable: false };
  if (!isSeq(root)) {
    return { file, items: [], errors: [configError('(root)', 'a rule file is a YAML sequence of rule, list and macro items', { file, line: lineOf(root as Node) })], unreadable: true };
  }
  const items: ParsedItem[] = [];
  const errors: BoxwatchError[] = [];
  for (const node of root.items) {
    const line = lineOf(node as Node);
    if (!isMap(node)) {
      errors.push(configError('item', 'each item must be a mapping with rule, list or macro', { file, line }));
      continue;
    }
    const keyLines: Record<string, number> = {};
    for (const pair of node.items as Pair<Node, Node>[]) {
      const key = isScalar(pair.key) ? String(pair.key.value) : '';
      keyLines[key] = lineOf(pair.value ?? pair.key);
    }
    const data = node.toJSON() as Record<string, unknown>;
    const kind = 'rule' in data ? 'rule' : 'list' in data ? 'list' : 'macro' in data ? 'macro' : null;
    if (kind === null) {
      if (Object.keys(data).every((k) => IGNORED_TOP_KEYS.has(k))) continue;
      errors.push(configError('item', `unknown item (keys ${Object.keys(data).join(', ')}); expected rule, list or macro`, { file, line }));
      continue;
    }
    const schema = kind === 'rule' ? RuleSchema : kind === 'list' ? ListSchema : MacroSchema;
    const result = schema.safeParse(data);
    if (!result.success) {
      const issue = result.error.issues[0]!;
      const key = issue.code === 'unrecognized_keys' ? issue.keys[0]! : String(issue.path[0] ?? kind);
      const name = typeof data[kind] === 'string' ? ` (${kind} ${data[kind] as string})` : '';
      const problem = issue.code === 'unrecognized_keys' ? 'unknown key' : issue.message;
      errors.push(configError(`${key}${name}`, problem, { file, line: keyLines[key] ?? line }));
      continue;
    }
    items.push({ kind, item: result.data, file, line, keyLines } as ParsedItem);
  }
  return { file, items, errors, unreadable: false };
}
