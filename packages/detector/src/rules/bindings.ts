/**
 * What a CEL condition sees. @bufbuild/cel resolves `evt.path` by first asking the bindings for the
 * qualified name "evt.path" and only then for "evt" (and selecting `.path` on it). Converting the whole
 * event into a CEL map for every evaluation costs ~0.5-1 µs; answering the qualified name with a getter
 * costs almost nothing. So every `evt.…` / `proc.…` path a rule set references gets a getter on one shared
 * prototype, and one reusable bindings object per rule set points at the current event: no allocation
 * per event on the hot path.
 */
import { celMap, type CelMap } from '@bufbuild/cel';
import type { IEvent } from '@boxwatch/core';
import type { ProcEntry, ProcessTable } from '../context/process-table.js';

/** The current event and its process; set before each evaluation. */
export interface EvalScope {
  e: IEvent;
  p: ProcEntry;
  table: ProcessTable;
}

export type Accessor = (scope: EvalScope) => unknown;

/** Values CEL can take: Dates become ISO strings, undefined becomes null (a missing field compares unequal). */
function celValue(v: unknown): unknown {
  if (v === undefined) return null;
  if (v instanceof Date) return v.toISOString();
  return v;
}

/** The event as a plain object (for conditions that use `evt` as a whole, e.g. `has(evt.x)`). */
export function eventObject(e: IEvent): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(e)) out[key] = celValue((e as unknown as Record<string, unknown>)[key]);
  return out;
}

function containerObject(scope: EvalScope): Record<string, unknown> | null {
  const c = scope.e.container;
  if (!c) return null;
  return { ...c, frozen: scope.table.isFrozen(c) };
}

/** `proc.<field>` accessors; the computed ones walk the process table. */
const PROC_ACCESSORS: Record<string, Accessor> = {
  pid: (s) => s.p.pid,
  ppid: (s) => s.p.ppid,
  comm: (s) => s.p.comm,
  name: (s) => s.p.name,
  exe: (s) => s.p.exe,
  argv: (s) => s.p.argv,
  cmdline: (s) => s.p.argv.join(' '),
  uid: (s) => s.p.uid,
  pname: (s) => s.table.get(s.p.ppid)?.name ?? '',
  pexe: (s) => s.table.get(s.p.ppid)?.exe ?? '',
  pcmdline: (s) => s.table.get(s.p.ppid)?.argv.join(' ') ?? '',
  anames: (s) => s.table.ancestorNames(s.p),
  aexes: (s) => s.table.ancestorExes(s.p),
  exe_written_at_runtime: (s) => s.p.exe_written_at_runtime,
  exe_from_memfd: (s) => s.p.exe_from_memfd,
  created_memfd: (s) => s.p.created_memfd,
  has_outbound_connection: (s) => s.p.has_outbound_connection,
  outbound_peers: (s) => s.p.outbound_peers,
  known: (s) => s.p.known,
  container: containerObject,
};

function procObject(scope: EvalScope): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, get] of Object.entries(PROC_ACCESSORS)) out[k] = get(scope);
  return out;
}

/** Accessor for a dotted path rooted at `evt` or `proc` (e.g. `evt.container.name`, `proc.container.frozen`). */
export function pathAccessor(path: string): Accessor {
  const [root, ...rest] = path.split('.');
  if (root === 'evt') {
    if (rest.length === 0) return (s) => eventObject(s.e);
    const [first, ...more] = rest as [string, ...string[]];
    return (s) => {
      let v: unknown = (s.e as unknown as Record<string, unknown>)[first];
      for (const k of more) {
        if (v === null || v === undefined || typeof v !== 'object') return null;
        v = (v as Record<string, unknown>)[k];
      }
      return celValue(v);
    };
  }
  if (root === 'proc') {
    if (rest.length === 0) return procObject;
    const [first, ...more] = rest as [string, ...string[]];
    if (first === 'container' && more.length === 1 && more[0] === 'frozen') return (s) => s.table.isFrozen(s.e.container);
    if (first === 'container' && more.length >= 1) {
      return (s) => {
        let v: unknown = s.e.container;
        for (const k of more) {
          if (v === null || v === undefined || typeof v !== 'object') return null;
          v = (v as Record<string, unknown>)[k];
        }
        return celValue(v);
      };
    }
    const get = PROC_ACCESSORS[first];
    if (!get) return () => null;
    if (more.length === 0) return (s) => celValue(get(s));
    return (s) => {
      let v: unknown = get(s);
      for (const k of more) {
        if (v === null || v === undefined || typeof v !== 'object') return null;
        v = (v as Record<string, unknown>)[k];
      }
      return celValue(v);
    };
  }
  throw new Error(`path must start with evt or proc: ${path}`);
}

/** The bindings object handed to compiled CEL programs, reused for every event. */
export interface Bindings {
  scope: EvalScope;
}

/** Builds the shared getter prototype of one rule set. */
export class BindingsBuilder {
  private readonly proto: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  private readonly defined = new Set<string>();

  /** Make `path` and all its prefixes resolvable (CEL falls back to prefixes when a name is absent). */
  definePath(path: string): void {
    const parts = path.split('.');
    for (let i = parts.length; i >= 1; i--) {
      const name = parts.slice(0, i).join('.');
      if (this.defined.has(name)) continue;
      this.defined.add(name);
      const get = pathAccessor(name);
      Object.defineProperty(this.proto, name, {
        get(this: Bindings) {
          return get(this.scope);
        },
      });
    }
  }

  /** A `list` is bound as a CEL map item → true: `x in list` is a hash lookup, `list.exists(i, …)` iterates items. */
  defineList(name: string, items: readonly (string | number)[]): void {
    // CEL map keys are int/uint/string/bool: numbers become int keys (a double such as
    // `evt.dport` still finds them, CEL compares numeric keys across types).
    const key = (i: string | number): string | bigint => (typeof i === 'number' ? BigInt(Math.trunc(i)) : i);
    const value: CelMap = celMap(new Map(items.map((i) => [key(i), true] as [string | bigint, boolean])));
    Object.defineProperty(this.proto, name, { value, enumerable: false });
  }

  create(): Bindings {
    return Object.create(this.proto) as Bindings;
  }
}
