/**
 * Turns a rule condition (CEL text with macro names in it) into something cheap to run:
 * macros are expanded textually (each macro is a parenthesised CEL expression), the expression is
 * parsed once, its `evt.…`/`proc.…` references are checked against the event contract, the event
 * types it can match are inferred (for the per-type index), and it is planned once.
 */
import { parse, plan, celEnv, isCelError, type CelEnv } from '@bufbuild/cel';
import { strings } from '@bufbuild/cel/ext';
import type { Expr } from '@bufbuild/cel-spec/cel/expr/syntax_pb.js';
import { CONTAINER_FIELDS, PROC_FIELDS, eventFieldKnown } from './fields.js';
import type { Bindings } from './bindings.js';
import { FALLBACK, compileJs, type ListIndex } from './compile-js.js';

/** One environment for all conditions: the CEL standard library plus the strings extension. */
export const CEL_ENV: CelEnv = celEnv({ funcs: [...strings] });

export class ConditionError extends Error {
  constructor(
    message: string,
    /** 1-based line inside the condition text, when the parser knows it. */
    readonly conditionLine?: number,
  ) {
    super(message);
  }
}

const IDENT = /[A-Za-z_][A-Za-z0-9_]*/y;

/**
 * Replace macro names by `(body)` outside string literals and not after a `.` (a field name).
 * Macros may use other macros; cycles are an error.
 */
export function expandMacros(text: string, macros: ReadonlyMap<string, string>, stack: string[] = []): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const ch = text[i]!;
    if (ch === '"' || ch === "'") {
      // Copy a string literal verbatim (handles backslash escapes and triple quotes well enough).
      const triple = text.startsWith(ch.repeat(3), i);
      const close = triple ? ch.repeat(3) : ch;
      let j = i + close.length;
      while (j < text.length && !text.startsWith(close, j)) j += text[j] === '\\' ? 2 : 1;
      out += text.slice(i, j + close.length);
      i = j + close.length;
      continue;
    }
    IDENT.lastIndex = i;
    const m = IDENT.exec(text);
    if (m && (i === 0 || !/[A-Za-z0-9_]/.test(text[i - 1]!))) {
      const name = m[0];
      let k = i - 1;
      while (k >= 0 && /\s/.test(text[k]!)) k--;
      const isField = k >= 0 && text[k] === '.';
      const body = macros.get(name);
      if (body !== undefined && !isField) {
        if (stack.includes(name)) throw new ConditionError(`macro cycle: ${[...stack, name].join(' -> ')}`);
        out += `(${expandMacros(body, macros, [...stack, name])})`;
      } else {
        out += name;
      }
      i += name.length;
      continue;
    }
    out += ch;
    i++;
  }
  return out;
}

/** What a parsed condition references. */
export interface ConditionRefs {
  /** Full dotted paths rooted at evt/proc (`evt.container.name`). */
  paths: Set<string>;
  /** Other free identifiers (must be lists). */
  idents: Set<string>;
}

/** Walk the AST collecting references. Comprehension variables are bound locally and skipped. */
export function collectRefs(expr: Expr, refs: ConditionRefs = { paths: new Set(), idents: new Set() }, bound: ReadonlySet<string> = new Set()): ConditionRefs {
  const k = expr.exprKind;
  switch (k.case) {
    case 'identExpr':
      if (!bound.has(k.value.name)) {
        if (k.value.name === 'evt' || k.value.name === 'proc') refs.paths.add(k.value.name);
        else refs.idents.add(k.value.name);
      }
      break;
    case 'selectExpr': {
      const chain = selectChain(expr);
      if (chain && (chain[0] === 'evt' || chain[0] === 'proc') && !bound.has(chain[0])) refs.paths.add(chain.join('.'));
      else if (k.value.operand) collectRefs(k.value.operand, refs, bound);
      break;
    }
    case 'callExpr':
      if (k.value.target) collectRefs(k.value.target, refs, bound);
      for (const a of k.value.args) collectRefs(a, refs, bound);
      break;
    case 'listExpr':
      for (const e of k.value.elements) collectRefs(e, refs, bound);
      break;
    case 'structExpr':
      for (const e of k.value.entries) {
        if (e.keyKind.case === 'mapKey') collectRefs(e.keyKind.value, refs, bound);
        if (e.value) collectRefs(e.value, refs, bound);
      }
      break;
    case 'comprehensionExpr': {
      const c = k.value;
      if (c.iterRange) collectRefs(c.iterRange, refs, bound);
      if (c.accuInit) collectRefs(c.accuInit, refs, bound);
      const inner = new Set(bound);
      for (const v of [c.iterVar, c.iterVar2, c.accuVar]) if (v) inner.add(v);
      for (const e of [c.loopCondition, c.loopStep, c.result]) if (e) collectRefs(e, refs, inner);
      break;
    }
    default:
      break;
  }
  return refs;
}

/** `a.b.c` as ['a','b','c'] when the select chain ends in an identifier. */
function selectChain(expr: Expr): string[] | null {
  const parts: string[] = [];
  let cur: Expr | undefined = expr;
  while (cur) {
    const k: Expr['exprKind'] = cur.exprKind;
    if (k.case === 'selectExpr') {
      parts.unshift(k.value.field);
      cur = k.value.operand;
    } else if (k.case === 'identExpr') {
      parts.unshift(k.value.name);
      return parts;
    } else {
      return null;
    }
  }
  return null;
}

function stringConst(expr: Expr | undefined): string | null {
  if (expr?.exprKind.case === 'constExpr' && expr.exprKind.value.constantKind.case === 'stringValue') return expr.exprKind.value.constantKind.value;
  return null;
}

function isEvtType(expr: Expr | undefined): boolean {
  const chain = expr ? selectChain(expr) : null;
  return chain !== null && chain.length === 2 && chain[0] === 'evt' && chain[1] === 'type';
}

/**
 * Event types a condition can match: exact names and `prefix*` patterns, or null when the condition
 * does not constrain `evt.type` (then the rule is evaluated for every event).
 */
export function inferTypes(expr: Expr): string[] | null {
  const k = expr.exprKind;
  if (k.case !== 'callExpr') return null;
  const { function: fn, args, target } = k.value;
  if (fn === '_==_' && args.length === 2) {
    if (isEvtType(args[0]) && stringConst(args[1]) !== null) return [stringConst(args[1])!];
    if (isEvtType(args[1]) && stringConst(args[0]) !== null) return [stringConst(args[0])!];
    return null;
  }
  if (fn === '@in' && args.length === 2 && isEvtType(args[0]) && args[1]?.exprKind.case === 'listExpr') {
    const items = args[1].exprKind.value.elements.map(stringConst);
    return items.every((s) => s !== null) ? (items as string[]) : null;
  }
  if (fn === 'startsWith' && isEvtType(target) && stringConst(args[0]) !== null) return [`${stringConst(args[0])!}*`];
  if (fn === '_||_') {
    const parts = args.map(inferTypes);
    if (parts.some((p) => p === null)) return null;
    return [...new Set(parts.flat() as string[])];
  }
  if (fn === '_&&_') {
    const parts = args.map(inferTypes).filter((p): p is string[] => p !== null);
    if (parts.length === 0) return null;
    // Any constrained conjunct bounds the set; pick the narrowest rather than intersecting patterns.
    return parts.reduce((a, b) => (b.length < a.length ? b : a));
  }
  return null;
}

/** True when an event type matches one of the inferred names/patterns. */
export function typeMatches(type: string, types: readonly string[]): boolean {
  for (const t of types) {
    if (t === type) return true;
    if (t.endsWith('*') && type.startsWith(t.slice(0, -1))) return true;
  }
  return false;
}

/** Concrete event types for field checks: exact names only (patterns widen to "any type"). */
function checkTypes(types: readonly string[] | null): string[] | null {
  if (types === null || types.some((t) => t.endsWith('*'))) return null;
  return [...types];
}

/** Check referenced paths against the contract; returns a problem description or null. */
export function checkPaths(paths: Iterable<string>, types: readonly string[] | null): string | null {
  const concrete = checkTypes(types);
  for (const path of paths) {
    const [root, first, second] = path.split('.');
    if (first === undefined) continue;
    if (root === 'evt' && !eventFieldKnown(first, concrete)) {
      return `unknown field evt.${first}${concrete ? ` for event types ${concrete.join(', ')}` : ''}`;
    }
    if (root === 'proc') {
      if (!PROC_FIELDS.includes(first)) return `unknown field proc.${first}`;
      if (first === 'container' && second !== undefined && !CONTAINER_FIELDS.includes(second)) return `unknown field proc.container.${second}`;
    }
  }
  return null;
}

export type Program = (bindings: Bindings) => boolean;

export interface CompiledCondition {
  program: Program;
  refs: ConditionRefs;
  types: string[] | null;
  expanded: string;
  /** 'js': the subset compiler handles it (CEL only on FALLBACK); 'cel': the interpreter runs it. */
  engine: 'js' | 'cel';
}

/**
 * Compile a condition. `lists` are the names the bindings provide; `forcedTypes` (the rule's `events:`)
 * override inference. Throws ConditionError on any problem.
 */
export function compileCondition(
  text: string,
  macros: ReadonlyMap<string, string>,
  lists: ReadonlySet<string>,
  forcedTypes: readonly string[] | null,
  /** Named lists' items; when given, the condition is also compiled to a JS closure where possible. */
  listIndexes?: ReadonlyMap<string, ListIndex>,
): CompiledCondition {
  const expanded = expandMacros(text, macros);
  let parsed;
  try {
    parsed = parse(expanded);
  } catch (err) {
    const loc = (err as { location?: { start?: { line?: number } } }).location;
    // Line numbers are only meaningful when no macro was spliced in (expansion keeps line breaks otherwise).
    throw new ConditionError(`invalid CEL: ${(err as Error).message}`, loc?.start?.line);
  }
  const expr = parsed.expr;
  if (!expr) throw new ConditionError('empty condition');
  const refs = collectRefs(expr);
  for (const id of refs.idents) {
    if (!lists.has(id)) throw new ConditionError(`unknown identifier ${id} (not evt, proc, a list or a macro)`);
  }
  const types = forcedTypes ? [...forcedTypes] : inferTypes(expr);
  const problem = checkPaths(refs.paths, types);
  if (problem) throw new ConditionError(problem);
  const planned = plan(CEL_ENV, parsed);
  // A CEL error (missing field, wrong type) means "no match": Falco treats unknown values the same way.
  const cel: Program = (bindings) => planned(bindings as never) === true;
  const js = listIndexes ? compileJs(expr, listIndexes) : null;
  if (!js) return { program: cel, refs, types, expanded, engine: 'cel' };
  const program: Program = (bindings) => {
    const r = js(bindings.scope);
    return r === FALLBACK ? cel(bindings) : r;
  };
  return { program, refs, types, expanded, engine: 'js' };
}

export { isCelError };
