/**
 * Reads the YAML config, applies command-line flags on top, validates with zod and turns the first
 * problem into ERR_CONFIG naming the file, the line and the field (or the flag that set it).
 */
import { readFileSync } from 'node:fs';
import { isMap, isScalar, LineCounter, parseDocument, type Document } from 'yaml';
import { configError } from '@boxwatch/core';
import { configSchema, type BoxwatchConfig } from './schema.js';

export type FieldPath = ReadonlyArray<string | number>;

/** Where a config value came from, so later checks (plugin options, rule files) can point at it too. */
export interface ConfigSource {
  file?: string;
  /** Line (1-based) of the value at `path` in the file, when it is there. */
  lineOf(path: FieldPath): number | undefined;
  /** The flag that set `path`, when it came from the command line. */
  flagOf(path: FieldPath): string | undefined;
  /** ERR_CONFIG for `path`, located in the file or naming the flag. */
  error(path: FieldPath, problem: string): Error;
}

export interface LoadedConfig {
  config: BoxwatchConfig;
  source: ConfigSource;
}

/** A value given on the command line: the flag as typed, and the config field it sets. */
export interface FlagValue {
  flag: string;
  path: FieldPath;
  value: unknown;
}

const pathKey = (p: FieldPath) => p.map(String).join('.');

export function loadConfig(file: string | undefined, flags: readonly FlagValue[] = []): LoadedConfig {
  let doc: Document | undefined;
  const lines = new LineCounter();
  let raw: Record<string, unknown> = {};
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw configError('config', `cannot read config file: ${(err as Error).message}`, { file });
    }
    doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
    const yamlError = doc.errors[0];
    if (yamlError) {
      const line = lines.linePos(yamlError.pos[0]).line;
      throw configError('(yaml)', yamlError.message.split('\n')[0] ?? 'YAML syntax error', { file, line });
    }
    const js: unknown = doc.toJS();
    if (js !== null && js !== undefined && (typeof js !== 'object' || Array.isArray(js))) {
      throw configError('(root)', 'the config file must be a YAML mapping of settings', { file, line: 1 });
    }
    raw = (js as Record<string, unknown> | null) ?? {};
  }

  const flagByPath = new Map<string, string>();
  for (const f of flags) {
    setIn(raw, f.path, f.value);
    flagByPath.set(pathKey(f.path), f.flag);
  }

  const source: ConfigSource = {
    file,
    lineOf: (path) => (doc ? lineOf(doc, lines, path) : undefined),
    flagOf: (path) => {
      // A flag setting `api.port` also owns problems reported below it.
      for (let n = path.length; n > 0; n--) {
        const f = flagByPath.get(pathKey(path.slice(0, n)));
        if (f) return f;
      }
      return undefined;
    },
    error(path, problem) {
      const field = pathKey(path) || '(root)';
      const flag = this.flagOf(path);
      if (flag) return configError(field, `${problem} (from ${flag})`);
      return configError(field, problem, file ? { file, line: this.lineOf(path) } : {});
    },
  };

  const result = configSchema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    let path: FieldPath = issue.path as FieldPath;
    // For an unknown key, point at the key itself rather than its parent mapping.
    if (issue.code === 'unrecognized_keys' && issue.keys.length) path = [...path, issue.keys[0]!];
    throw source.error(path, issue.code === 'unrecognized_keys' ? `unknown setting (${issue.message})` : issue.message);
  }
  return { config: result.data, source };
}

/** Line of the node at `path`; falls back to the nearest ancestor that exists (a missing field is reported at its parent). */
function lineOf(doc: Document, lines: LineCounter, path: FieldPath): number | undefined {
  for (let n = path.length; n >= 0; n--) {
    const sub = path.slice(0, n);
    const parentPath = sub.slice(0, -1);
    const parent = sub.length ? doc.getIn(parentPath, true) : doc.contents;
    // Prefer the key's position for mapping entries (the value may be on the next line).
    if (sub.length && isMap(parent)) {
      const pair = parent.items.find((p) => isScalar(p.key) && String(p.key.value) === String(sub[sub.length - 1]));
      const range = (pair?.key as { range?: [number, number, number] } | undefined)?.range;
      if (range) return lines.linePos(range[0]).line;
    }
    const node = sub.length ? doc.getIn(sub, true) : doc.contents;
    const range = (node as { range?: [number, number, number] } | null | undefined)?.range;
    if (range) return lines.linePos(range[0]).line;
  }
  return undefined;
}

function setIn(target: Record<string, unknown>, path: FieldPath, value: unknown): void {
  let cur: Record<string, unknown> = target;
  for (const key of path.slice(0, -1)) {
    const next = cur[String(key)];
    if (next === null || typeof next !== 'object' || Array.isArray(next)) cur[String(key)] = {};
    cur = cur[String(key)] as Record<string, unknown>;
  }
  cur[String(path[path.length - 1])] = value;
}
