/**
 * A small compiler from a subset of CEL to plain JS closures, used as a fast path in front of
 * @bufbuild/cel (which stays the definition of what a condition means).
 *
 * Why: the CEL interpreter costs 0.3–1 µs per condition (activation lookups, value conversion, overload
 * dispatch) and the default rules run 8–12 conditions per file.open / process.exec. The same conditions as
 * closures cost tens of nanoseconds.
 *
 * How it stays faithful:
 * - Field paths (`evt.path`, `proc.container.frozen`) are read with the very accessors the CEL bindings
 *   use (bindings.ts `pathAccessor`), so both see the same value.
 * - Values keep @bufbuild/cel's runtime representation: JS number = CEL double, bigint = CEL int, string,
 *   boolean, null. Operators copy its overload tables (std/logic.js) and its `&&`/`||` error absorption:
 *   `false && error` is false, `true || error` is true, otherwise the error wins; a missing overload
 *   (`null.startsWith('x')`, `'a' < 1`) is an error. Only "true" matches, so every error is one value, ERR.
 * - Anything the compiler does not know returns NO at compile time: the rule keeps the CEL program only.
 *   At run time, a value the subset does not model (a list or map where a scalar is expected, e.g.
 *   `evt.flags == {...}`) makes the closure return FALLBACK, and the caller evaluates the CEL program for
 *   that event. So the fast path is either exactly CEL's answer or it defers to CEL.
 * - `matches()` uses @bufbuild/re2 as CEL does, but compiles the constant pattern once (CEL compiles it on
 *   every call, which was ~20 % of the benchmark).
 *
 * Subset: constants (string, int, double, bool, null); `evt.…`/`proc.…` paths; comprehension variables;
 * list literals; `== != < <= > >=`; `&& || !`; `in` (list literal, named list, list-valued path);
 * `startsWith endsWith contains` and `matches` with a constant pattern; `exists` / `all` macros.
 * property-tested against @bufbuild/cel in test/unit/compile-js.property.test.ts.
 */
import { RE2JS } from '@bufbuild/re2';
import type { Expr } from '@bufbuild/cel-spec/cel/expr/syntax_pb.js';
import { pathAccessor, type EvalScope } from './bindings.js';

/** A CEL error value (no match). */
export const ERR: unique symbol = Symbol('cel-error');
/** The subset cannot decide for this input: evaluate the CEL program instead. */
export const FALLBACK: unique symbol = Symbol('cel-fallback');

type Val = string | number | bigint | boolean | null | readonly unknown[] | object | typeof ERR | typeof FALLBACK;
/** Comprehension variables, by slot. */
type Env = unknown[];
type Node = (s: EvalScope, env: Env) => Val;

/** Returned when an expression is outside the subset. */
const NO = null;

export interface JsCondition {
  /** true / false, or FALLBACK when the CEL program must decide. ERR is reported as false. */
  (scope: EvalScope): boolean | typeof FALLBACK;
}

/** Values whose CEL semantics the subset models. Lists/maps/other objects are not scalars. */
function isScalar(v: unknown): v is string | number | bigint | boolean | null {
  return v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint';
}

/** A plain JS array (CEL list) or plain object (CEL map): what @bufbuild/cel's toCel accepts without surprises. */
function isPlainContainer(v: unknown): boolean {
  if (Array.isArray(v)) return true;
  return typeof v === 'object' && v !== null && (v as object).constructor?.name === 'Object';
}

/** CEL equality restricted to scalars (std equals.js); FALLBACK for containers. */
function celEq(a: unknown, b: unknown): boolean | typeof FALLBACK {
  const ta = typeof a;
  const tb = typeof b;
  // Containers first, even when a === b: `[NaN] == [NaN]` is false in CEL, and objects CEL cannot
  // convert are its business. `x == null` / `x != null` on a list or map is false / true.
  if ((ta === 'object' && a !== null) || (tb === 'object' && b !== null)) {
    if ((a === null && isPlainContainer(b)) || (b === null && isPlainContainer(a))) return false;
    return FALLBACK;
  }
  if (a === b) return true;
  if ((ta === 'number' || ta === 'bigint') && (tb === 'number' || tb === 'bigint')) return (a as number) == (b as number);
  return false;
}

type Cmp = (l: never, r: never) => boolean;
/** Ordering overloads of std/logic.js: (double|int)×(double|int), string×string, bool×bool; else error. */
function celCompare(a: Val, b: Val, op: Cmp): boolean | typeof ERR | typeof FALLBACK {
  const ta = typeof a;
  const tb = typeof b;
  if (ta === 'number' || ta === 'bigint') {
    if (tb === 'number' || tb === 'bigint') {
      // Mixed int/double compares as doubles (CEL-JS does Number(int)).
      if (ta !== tb) return op(Number(a) as never, Number(b) as never);
      return op(a as never, b as never);
    }
  } else if ((ta === 'string' && tb === 'string') || (ta === 'boolean' && tb === 'boolean')) {
    return op(a as never, b as never);
  }
  if ((ta === 'object' && a !== null && !isPlainContainer(a)) || (tb === 'object' && b !== null && !isPlainContainer(b))) return FALLBACK;
  return ERR;
}

const CMP: Record<string, Cmp> = {
  '_<_': (l: number, r: number) => l < r,
  '_<=_': (l: number, r: number) => l <= r,
  '_>_': (l: number, r: number) => l > r,
  '_>=_': (l: number, r: number) => l >= r,
} as Record<string, Cmp>;

/**
 * Short-circuit semantics of the planner's EvalAnd / EvalOr: arguments in order, the first deciding value
 * (false for &&, true for ||) wins, otherwise any error (or non-bool) makes an error. FALLBACK returns at
 * once: the interpreter takes the same path up to that argument, so only it knows what happens next.
 */
/** An object the closure does not model (CEL's own conversion decides what it is). */
function exotic(v: Val): boolean {
  return typeof v === 'object' && v !== null && !isPlainContainer(v);
}

function logic(args: Node[], isAnd: boolean): Node {
  const stop = !isAnd; // && stops on false, || on true
  return (s, env) => {
    let err = false;
    for (let i = 0; i < args.length; i++) {
      const v = args[i]!(s, env);
      if (v === stop) return stop;
      if (v === FALLBACK || exotic(v)) return FALLBACK;
      if (typeof v !== 'boolean') err = true; // an error, or a non-bool (type mismatch error)
    }
    return err ? ERR : !stop;
  };
}

/** Named lists as the bindings hold them (a CEL map item → true; numbers are int keys). */
export interface ListIndex {
  strings: ReadonlySet<string>;
  numbers: ReadonlySet<number>;
  bigints: ReadonlySet<bigint>;
}

export function listIndex(items: readonly (string | number)[]): ListIndex {
  const strings = new Set<string>();
  const numbers = new Set<number>();
  const bigints = new Set<bigint>();
  for (const i of items) {
    if (typeof i === 'string') strings.add(i);
    else {
      const k = BigInt(Math.trunc(i));
      bigints.add(k);
      numbers.add(Number(k));
    }
  }
  return { strings, numbers, bigints };
}

/** `x in map` for a named list (std inMap over NativeMap.get: integral doubles find int keys). */
function inNamed(x: Val, l: ListIndex): Val {
  switch (typeof x) {
    case 'string':
      return l.strings.has(x);
    case 'number':
      // Number(BigInt(x)) === x for every integral double, so the number set answers exactly.
      return Number.isInteger(x) && l.numbers.has(x);
    case 'bigint':
      return l.bigints.has(x);
    case 'boolean':
      return false;
    default:
      if (x === null) return ERR; // no `in` overload for null
      return FALLBACK;
  }
}

/** `x in list` (std inList: CEL equality against each element). */
function inList(x: Val, list: readonly unknown[]): Val {
  if (!isScalar(x)) return FALLBACK;
  for (let i = 0; i < list.length; i++) {
    const r = celEq(list[i], x);
    if (r !== false) return r; // true, or FALLBACK (decided in order, like std inList)
  }
  return false;
}

interface Ctx {
  lists: ReadonlyMap<string, ListIndex>;
  /** Comprehension variables in scope: name → env slot. */
  vars: Map<string, number>;
  slots: number;
}

function selectChain(expr: Expr): string[] | null {
  const parts: string[] = [];
  let cur: Expr | undefined = expr;
  while (cur) {
    const k: Expr['exprKind'] = cur.exprKind;
    if (k.case === 'selectExpr') {
      if (k.value.testOnly) return null; // has()
      parts.unshift(k.value.field);
      cur = k.value.operand;
    } else if (k.case === 'identExpr') {
      parts.unshift(k.value.name);
      return parts;
    } else return null;
  }
  return null;
}

function constant(expr: Expr): Val | undefined {
  if (expr.exprKind.case !== 'constExpr') return undefined;
  const c = expr.exprKind.value.constantKind;
  switch (c.case) {
    case 'stringValue':
    case 'int64Value':
    case 'doubleValue':
    case 'boolValue':
      return c.value;
    case 'nullValue':
      return null;
    default:
      return undefined; // uint, bytes, durations: not in the subset
  }
}

function compileNode(expr: Expr, ctx: Ctx): Node | null {
  const k = expr.exprKind;
  switch (k.case) {
    case 'constExpr': {
      const v = constant(expr);
      if (v === undefined) return NO;
      return () => v;
    }
    case 'identExpr': {
      const slot = ctx.vars.get(k.value.name);
      if (slot !== undefined) return (_s, env) => env[slot] as Val;
      if (k.value.name === 'evt' || k.value.name === 'proc') return NO; // whole objects: CEL
      return NO; // a list used as a value
    }
    case 'selectExpr': {
      const chain = selectChain(expr);
      if (!chain || (chain[0] !== 'evt' && chain[0] !== 'proc') || ctx.vars.has(chain[0]!)) return NO;
      const get = pathAccessor(chain.join('.'));
      // Values the closure does not model (objects that are not plain records or arrays, e.g. with
      // no prototype) are left to CEL from the moment they are read, whatever operator follows.
      return (s) => {
        const v = get(s) as Val;
        return exotic(v) ? FALLBACK : v;
      };
    }
    case 'listExpr': {
      if (k.value.optionalIndices.length > 0) return NO;
      const els = k.value.elements.map((e) => compileNode(e, ctx));
      if (els.some((e) => e === NO)) return NO;
      const nodes = els as Node[];
      const allConst = k.value.elements.every((e) => constant(e) !== undefined);
      if (allConst) {
        const fixed = k.value.elements.map((e) => constant(e));
        return () => fixed;
      }
      return (s, env) => {
        const out: unknown[] = [];
        for (const n of nodes) {
          const v = n(s, env);
          if (v === ERR || v === FALLBACK) return v;
          out.push(v);
        }
        return out;
      };
    }
    case 'callExpr':
      return compileCall(expr, ctx);
    case 'comprehensionExpr':
      return compileComprehension(expr, ctx);
    default:
      return NO;
  }
}

function compileCall(expr: Expr, ctx: Ctx): Node | null {
  if (expr.exprKind.case !== 'callExpr') return NO;
  const { function: fn, args, target } = expr.exprKind.value;
  if (!target && (fn === '_&&_' || fn === '_||_')) {
    const nodes = args.map((a) => compileNode(a, ctx));
    if (nodes.some((n) => n === NO)) return NO;
    return logic(nodes as Node[], fn === '_&&_');
  }
  if (!target && fn === '!_' && args.length === 1) {
    const a = compileNode(args[0]!, ctx);
    if (!a) return NO;
    return (s, env) => {
      const v = a(s, env);
      if (typeof v === 'boolean') return !v;
      // A value CEL converts in its own way (e.g. an object without a prototype): let CEL decide.
      if (v === FALLBACK || exotic(v)) return FALLBACK;
      return ERR;
    };
  }
  if (!target && (fn === '_==_' || fn === '_!=_') && args.length === 2) {
    const l = compileNode(args[0]!, ctx);
    const r = compileNode(args[1]!, ctx);
    if (!l || !r) return NO;
    const neg = fn === '_!=_';
    return (s, env) => {
      const a = l(s, env);
      const b = r(s, env);
      if (a === FALLBACK || b === FALLBACK || exotic(a) || exotic(b)) return FALLBACK;
      if (a === ERR || b === ERR) return ERR;
      const eq = celEq(a, b);
      return eq === FALLBACK ? FALLBACK : neg ? !eq : eq;
    };
  }
  const cmp = CMP[fn];
  if (!target && cmp && args.length === 2) {
    const l = compileNode(args[0]!, ctx);
    const r = compileNode(args[1]!, ctx);
    if (!l || !r) return NO;
    return (s, env) => {
      const a = l(s, env);
      const b = r(s, env);
      if (a === FALLBACK || b === FALLBACK) return FALLBACK;
      if (a === ERR || b === ERR) return ERR;
      return celCompare(a, b, cmp);
    };
  }
  if (!target && fn === '@in' && args.length === 2) {
    const l = compileNode(args[0]!, ctx);
    if (!l) return NO;
    const rhs = args[1]!;
    // A named list: `x in shell_binaries`.
    if (rhs.exprKind.case === 'identExpr' && !ctx.vars.has(rhs.exprKind.value.name)) {
      const list = ctx.lists.get(rhs.exprKind.value.name);
      if (!list) return NO;
      return (s, env) => {
        const x = l(s, env);
        if (x === ERR || x === FALLBACK) return x;
        return inNamed(x, list);
      };
    }
    const r = compileNode(rhs, ctx);
    if (!r) return NO;
    return (s, env) => {
      const x = l(s, env);
      const list = r(s, env);
      if (x === FALLBACK || list === FALLBACK) return FALLBACK;
      if (x === ERR || list === ERR) return ERR;
      if (Array.isArray(list)) return inList(x, list);
      if (isScalar(list)) return ERR; // no `in` overload for a scalar
      return FALLBACK; // a map-valued field
    };
  }
  if (target && args.length === 1 && (fn === 'startsWith' || fn === 'endsWith' || fn === 'contains')) {
    const t = compileNode(target, ctx);
    const a = compileNode(args[0]!, ctx);
    if (!t || !a) return NO;
    const op =
      fn === 'startsWith' ? (x: string, y: string) => x.startsWith(y) : fn === 'endsWith' ? (x: string, y: string) => x.endsWith(y) : (x: string, y: string) => x.includes(y);
    return (s, env) => {
      const x = t(s, env);
      if (x === ERR || x === FALLBACK) return x; // EvalCall: the target is evaluated first
      const y = a(s, env);
      if (y === ERR || y === FALLBACK) return y;
      if (typeof x === 'string' && typeof y === 'string') return op(x, y);
      return isScalar(x) && isScalar(y) ? ERR : FALLBACK;
    };
  }
  if (target && fn === 'matches' && args.length === 1) {
    const pattern = constant(args[0]!);
    if (typeof pattern !== 'string') return NO;
    let re: ReturnType<typeof RE2JS.compile>;
    try {
      re = RE2JS.compile(pattern);
    } catch {
      return NO; // CEL reports the bad pattern at run time
    }
    const t = compileNode(target, ctx);
    if (!t) return NO;
    return (s, env) => {
      const x = t(s, env);
      if (x === ERR || x === FALLBACK) return x;
      if (typeof x === 'string') return re.test(x);
      return isScalar(x) ? ERR : FALLBACK;
    };
  }
  return NO;
}

/**
 * The `exists` and `all` macros as the parser expands them: accumulator `@result` starting false (true),
 * step `@result || pred` (`@result && pred`), result `@result`. The planner's fold stops when the
 * accumulator is true (false), and an error accumulator survives only if no later item decides.
 */
function compileComprehension(expr: Expr, ctx: Ctx): Node | null {
  if (expr.exprKind.case !== 'comprehensionExpr') return NO;
  const c = expr.exprKind.value;
  if (c.iterVar2 || !c.iterRange || !c.accuInit || !c.loopStep || !c.result) return NO;
  const init = constant(c.accuInit);
  if (typeof init !== 'boolean') return NO;
  const step = c.loopStep.exprKind;
  if (step.case !== 'callExpr' || step.value.target || step.value.args.length !== 2) return NO;
  const isExists = init === false && step.value.function === '_||_';
  const isAll = init === true && step.value.function === '_&&_';
  if (!isExists && !isAll) return NO;
  const [acc, pred] = step.value.args as [Expr, Expr];
  const isAccu = (e: Expr) => e.exprKind.case === 'identExpr' && e.exprKind.value.name === c.accuVar;
  if (!isAccu(acc) || !isAccu(c.result)) return NO;
  if (c.iterVar === 'evt' || c.iterVar === 'proc' || ctx.lists.has(c.iterVar)) return NO;
  const range = compileNode(c.iterRange, ctx);
  if (!range) return NO;
  const slot = ctx.slots++;
  const inner: Ctx = { ...ctx, vars: new Map(ctx.vars).set(c.iterVar, slot) };
  const body = compileNode(pred, inner);
  ctx.slots = Math.max(ctx.slots, inner.slots);
  if (!body) return NO;
  const stop = isExists; // exists stops on true, all on false
  return (s, env) => {
    const items = range(s, env);
    if (items === ERR || items === FALLBACK) return items;
    if (!Array.isArray(items)) return isScalar(items) ? ERR : FALLBACK; // map ranges iterate keys: CEL
    let err = false;
    for (let i = 0; i < items.length; i++) {
      const item = items[i] as unknown;
      if (!isScalar(item)) return FALLBACK;
      env[slot] = item;
      const v = body(s, env);
      if (v === stop) return stop;
      if (v === FALLBACK || exotic(v)) return FALLBACK;
      if (typeof v !== 'boolean') err = true;
    }
    return err ? ERR : !stop;
  };
}

/**
 * Compile a parsed condition to a closure, or null when it uses anything outside the subset.
 * `lists` are the rule set's named lists.
 */
export function compileJs(expr: Expr, lists: ReadonlyMap<string, ListIndex>): JsCondition | null {
  const ctx: Ctx = { lists, vars: new Map(), slots: 0 };
  const node = compileNode(expr, ctx);
  if (!node) return null;
  const env: unknown[] = new Array(ctx.slots).fill(null);
  return (scope) => {
    const v = node(scope, env);
    return v === FALLBACK ? FALLBACK : v === true;
  };
}
