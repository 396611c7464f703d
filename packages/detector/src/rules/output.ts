/**
 * Rule `output` templates: text with `{{evt.path}}` / `{{proc.exe}}` placeholders (whitespace inside
 * the braces is allowed). Falco's `%evt.path` form is not used because CEL paths contain characters
 * (`.`) that make the end of a `%` reference ambiguous next to punctuation. Missing values render as
 * `<NA>` like Falco; lists are joined with spaces.
 */
import { pathAccessor, type Accessor, type EvalScope } from './bindings.js';

const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_.]*)\s*\}\}/g;

export interface OutputTemplate {
  paths: string[];
  render(scope: EvalScope): string;
}

function show(v: unknown): string {
  if (v === null || v === undefined || v === '') return '<NA>';
  if (Array.isArray(v)) return v.map(show).join(' ');
  if (typeof v === 'object') return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x));
  return String(v);
}

export function compileOutput(template: string): OutputTemplate {
  const literals: string[] = [];
  const accessors: Accessor[] = [];
  const paths: string[] = [];
  let last = 0;
  for (const m of template.matchAll(PLACEHOLDER)) {
    literals.push(template.slice(last, m.index));
    paths.push(m[1]!);
    accessors.push(pathAccessor(m[1]!)); // throws for roots other than evt/proc
    last = m.index + m[0].length;
  }
  literals.push(template.slice(last));
  return {
    paths,
    render(scope) {
      let out = literals[0]!;
      for (let i = 0; i < accessors.length; i++) out += show(accessors[i]!(scope)) + literals[i + 1]!;
      return out;
    },
  };
}
