/**
 * The JS closure compiler must agree with @bufbuild/cel on every expression of its subset: random
 * expressions over random events (fields of every type, missing fields, lists, maps) are evaluated by
 * both; wherever the closure answers (not FALLBACK) the answers must be equal.
 */
import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import { inspect } from 'node:util';
import { parse, plan } from '@bufbuild/cel';
import type { IEvent } from '@boxwatch/core';
import { Detector, ProcessTable, type ProcEntry } from '@boxwatch/detector';
import { CEL_ENV, collectRefs } from '../../src/rules/condition.js';
import { BindingsBuilder, type EvalScope } from '../../src/rules/bindings.js';
import { FALLBACK, compileJs, listIndex } from '../../src/rules/compile-js.js';

const LISTS: Record<string, (string | number)[]> = {
  strs: ['a', '/etc/shadow', 'sh', ''],
  nums: [1, 3333, 0, -2],
  mixed: ['1', 2, 'b'],
};
const listIndexes = new Map(Object.entries(LISTS).map(([k, v]) => [k, listIndex(v)]));

const PATHS = ['evt.path', 'evt.ret', 'evt.flags.write', 'evt.container', 'evt.container.name', 'evt.dport', 'evt.ts', 'evt.argv', 'evt.x', 'evt.y', 'proc.name', 'proc.argv', 'proc.uid'];

const strings = fc.constantFrom('a', 'b', '', '/etc/shadow', '/etc/', 'sh', '1', 'A', '/tmp/x', 'é');
const scalarValue = fc.oneof(strings, fc.integer({ min: -3, max: 3 }), fc.constantFrom(0.5, -0, 3333, 1e20, Number.NaN), fc.boolean(), fc.constant(null), fc.bigInt({ min: -2n, max: 2n }));
const anyValue = fc.oneof(
  { weight: 6, arbitrary: scalarValue },
  { weight: 1, arbitrary: fc.constant(undefined) },
  { weight: 2, arbitrary: fc.array(scalarValue, { maxLength: 3 }) },
  { weight: 1, arbitrary: fc.dictionary(fc.constantFrom('name', 'write', 'k'), scalarValue, { maxKeys: 2 }) },
);

const celString = strings.map((s) => JSON.stringify(s));
const celConst = fc.oneof(celString, fc.integer({ min: -3, max: 3 }).map(String), fc.constantFrom('0.5', '3333', '3333.0', '-1.5', 'true', 'false', 'null', '2'));
const leaf = fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...PATHS) }, { weight: 2, arbitrary: celConst });

const expr: fc.Arbitrary<string> = fc.letrec<{ e: string }>((tie) => ({
  e: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.tuple(tie('e'), fc.constantFrom('==', '!=', '<', '<=', '>', '>=', '&&', '||'), tie('e')).map(([a, op, b]) => `(${a} ${op} ${b})`),
    tie('e').map((a) => `!(${a})`),
    fc.tuple(tie('e'), fc.constantFrom('strs', 'nums', 'mixed')).map(([a, l]) => `(${a} in ${l})`),
    fc.tuple(tie('e'), fc.array(celConst, { maxLength: 3 })).map(([a, l]) => `(${a} in [${l.join(', ')}])`),
    fc.tuple(leaf, fc.constantFrom('evt.argv', 'proc.argv', 'evt.x')).map(([a, l]) => `(${a} in ${l})`),
    fc.tuple(tie('e'), fc.constantFrom('startsWith', 'endsWith', 'contains'), tie('e')).map(([a, f, b]) => `${a}.${f}(${b})`),
    fc.tuple(tie('e'), fc.constantFrom('^/etc/', 'sh$', '[0-9]', '(?i)A')).map(([a, re]) => `${a}.matches('${re}')`),
    fc.tuple(fc.constantFrom('[\'a\', \'/etc/\']', 'evt.argv', 'proc.argv', 'evt.x', '[1, 2.5]'), fc.constantFrom('exists', 'all'), tie('e')).map(
      ([range, m, body]) => `${range}.${m}(v, v == ${body} || (v != null && ${body}))`,
    ),
  ),
})).e;

const proc = (fields: Record<string, unknown>): ProcEntry => ({
  pid: 1, ppid: 0, comm: 'x', name: 'sh', exe: '/bin/sh', argv: ['sh'], uid: 0,
  exe_written_at_runtime: false, exe_from_memfd: false, created_memfd: false, has_outbound_connection: false, outbound_peers: [], known: true,
  ...fields,
} as ProcEntry);

const eventArb = fc.record({
  path: anyValue, ret: anyValue, flags: anyValue, container: anyValue, dport: anyValue, ts: anyValue, argv: anyValue, x: anyValue, y: anyValue,
});
const procArb = fc.record({ name: scalarValue, argv: fc.array(scalarValue, { maxLength: 3 }), uid: scalarValue });

describe('JS closures agree with @bufbuild/cel', () => {
  test('random subset expressions on random events', () => {
    let decided = 0;
    let total = 0;
    fc.assert(
      fc.property(expr, fc.array(fc.tuple(eventArb, procArb), { minLength: 1, maxLength: 6 }), (text, inputs) => {
        const parsed = parse(text);
        const js = compileJs(parsed.expr!, listIndexes);
        expect(js, `not compiled: ${text}`).not.toBeNull();
        const planned = plan(CEL_ENV, parsed);
        const builder = new BindingsBuilder();
        for (const [k, v] of Object.entries(LISTS)) builder.defineList(k, v);
        for (const p of collectRefs(parsed.expr!).paths) builder.definePath(p);
        const bindings = builder.create();
        for (const [fields, pf] of inputs) {
          const e = { type: 'file.open', comm: 'x', pid: 1, tid: 1, ...fields } as unknown as IEvent;
          const scope: EvalScope = { e, p: proc(pf), table: new ProcessTable() };
          bindings.scope = scope;
          const limit = Error.stackTraceLimit;
          Error.stackTraceLimit = 0;
          const want = planned(bindings as never) === true;
          Error.stackTraceLimit = limit;
          const got = js!(scope);
          total++;
          if (got === FALLBACK) continue;
          decided++;
          expect(got, `${text} on ${inspect(fields)}`).toBe(want);
        }
      }),
      { numRuns: Number(process.env.FC_RUNS ?? 3000), seed: process.env.FC_SEED ? Number(process.env.FC_SEED) : undefined },
    );
    // The fast path must actually decide most inputs, or this test would prove nothing.
    expect(decided / total).toBeGreaterThan(0.6);
  });

  test('every default rule runs as a closure', async () => {
    const d = new Detector({ models: false, flushIntervalMs: 0 });
    const cel = d.rules!.rules.filter((r) => r.engine !== 'js').map((r) => r.name);
    await d.close();
    expect(d.rules!.rules.length).toBeGreaterThanOrEqual(25);
    expect(cel).toEqual([]);
  });

  test('outside the subset (has(), size(), string extensions) stays on CEL', () => {
    for (const text of ['has(evt.path)', 'size(evt.path) > 2', "evt.path.lowerAscii() == 'a'", 'evt.ret + 1 > 2', "evt.x ? true : false"]) {
      expect(compileJs(parse(text).expr!, listIndexes), text).toBeNull();
    }
  });
});
