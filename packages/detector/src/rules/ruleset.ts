/**
 * A compiled, immutable set of rules indexed by event type. The engine swaps whole RuleSets on reload,
 * so an event is always evaluated against one consistent set.
 */
import { configError, type BoxwatchError } from '@boxwatch/core';
import { BindingsBuilder, type Bindings, type EvalScope } from './bindings.js';
import { ConditionError, checkPaths, compileCondition, typeMatches, type Program } from './condition.js';
import { listIndex, type ListIndex } from './compile-js.js';
import { compileOutput, type OutputTemplate } from './output.js';
import { normalisePriority, type ParsedFile, type Priority, type RuleItem } from './loader.js';

export interface CompiledRule {
  name: string;
  desc: string;
  priority: Priority;
  tags: string[];
  /** Event types (exact or `prefix*`) the rule is evaluated for; null = every event. */
  types: string[] | null;
  condition: string;
  program: Program;
  /** 'js' when the condition runs as a compiled closure (CEL decides only what the subset cannot), else 'cel'. */
  engine: 'js' | 'cel';
  output: OutputTemplate;
  file: string;
  line: number;
}

export interface RuleSetCounters {
  evaluations: number;
  matches: number;
}

const NO_RULES: readonly CompiledRule[] = [];

export class RuleSet {
  readonly counters: RuleSetCounters;
  /** The rules in force: those their file enables, less the ones switched off at run time. */
  readonly rules: readonly CompiledRule[];
  private readonly byType = new Map<string, readonly CompiledRule[]>();
  private readonly bindings: Bindings;

  constructor(
    /** Rules their file enables that compiled, in file order. */
    readonly loaded: readonly CompiledRule[],
    /** Problems found while loading (each names file:line and the rule); those rules are left out. */
    readonly errors: readonly BoxwatchError[],
    /** Rules present but `enabled: false` in their file. */
    readonly disabled: readonly string[],
    private readonly builder: BindingsBuilder,
    /** Rule names switched off at run time (RuleEngine.setEnabled); may name rules not loaded. */
    readonly runtimeDisabled: ReadonlySet<string> = new Set(),
    counters?: RuleSetCounters,
  ) {
    this.bindings = builder.create();
    this.rules = runtimeDisabled.size === 0 ? loaded : loaded.filter((r) => !runtimeDisabled.has(r.name));
    this.counters = counters ?? { evaluations: 0, matches: 0 };
  }

  /**
   * The same compiled rules with another run-time disabled set. Nothing is recompiled and the
   * counters carry on: switching a rule is not a reload.
   */
  withRuntimeDisabled(names: ReadonlySet<string>): RuleSet {
    return new RuleSet(this.loaded, this.errors, this.disabled, this.builder, names, this.counters);
  }

  /** Rules that can match an event type (computed once per type, then cached). */
  rulesFor(type: string): readonly CompiledRule[] {
    let list = this.byType.get(type);
    if (list === undefined) {
      const matching = this.rules.filter((r) => r.types === null || typeMatches(type, r.types));
      list = matching.length > 0 ? matching : NO_RULES;
      this.byType.set(type, list);
    }
    return list;
  }

  /** Run the rules for `scope.e`; `onMatch` is called for each rule that fires. */
  evaluate(scope: EvalScope, onMatch: (rule: CompiledRule, scope: EvalScope) => void): void {
    const rules = this.rulesFor(scope.e.type);
    if (rules.length === 0) return;
    this.bindings.scope = scope;
    // A condition that hits a missing field yields a CEL error value; building its Error stack costs
    // ~5 µs. Nobody reads those stacks, so capture none while conditions run.
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      for (let i = 0; i < rules.length; i++) {
        const rule = rules[i]!;
        this.counters.evaluations++;
        if (rule.program(this.bindings)) {
          this.counters.matches++;
          onMatch(rule, scope);
        }
      }
    } finally {
      Error.stackTraceLimit = limit;
    }
  }
}

function conditionErrorToConfig(err: unknown, what: string, field: string, file: string, line: number): BoxwatchError {
  const msg = err instanceof Error ? err.message : String(err);
  const extra = err instanceof ConditionError && err.conditionLine && err.conditionLine > 1 ? err.conditionLine - 1 : 0;
  return configError(`${field} (${what})`, msg, { file, line: line + extra });
}

/**
 * Compile the items of several files, in order (a later file may use the lists and macros of an earlier
 * one, as in Falco). Never throws for a bad item: it is reported in `errors` and skipped.
 */
export function compileRuleSet(files: readonly ParsedFile[], runtimeDisabled: ReadonlySet<string> = new Set()): RuleSet {
  const errors: BoxwatchError[] = files.flatMap((f) => f.errors);
  const lists = new Map<string, (string | number)[]>();
  const macros = new Map<string, string>();
  const ruleItems: { item: RuleItem; file: string; line: number; keyLines: Record<string, number> }[] = [];
  const seenRules = new Map<string, string>();

  for (const f of files) {
    for (const p of f.items) {
      if (p.kind === 'list') {
        const prev = lists.get(p.item.list);
        lists.set(p.item.list, p.item.append && prev ? [...prev, ...p.item.items] : [...p.item.items]);
      } else if (p.kind === 'macro') {
        macros.set(p.item.macro, p.item.condition);
      } else {
        const where = seenRules.get(p.item.rule);
        if (where !== undefined) {
          errors.push(configError(`rule (${p.item.rule})`, `duplicate rule name, first defined at ${where}`, { file: p.file, line: p.line }));
          continue;
        }
        seenRules.set(p.item.rule, `${p.file}:${p.line}`);
        ruleItems.push({ item: p.item, file: p.file, line: p.line, keyLines: p.keyLines });
      }
    }
  }

  const builder = new BindingsBuilder();
  for (const [name, items] of lists) builder.defineList(name, items);
  const listNames = new Set(lists.keys());
  const listIndexes = new Map<string, ListIndex>([...lists].map(([name, items]) => [name, listIndex(items)]));

  // Check macros on their own so a broken macro is reported at its own line.
  for (const f of files) {
    for (const p of f.items) {
      if (p.kind !== 'macro') continue;
      try {
        compileCondition(p.item.condition, macros, listNames, null);
      } catch (err) {
        errors.push(conditionErrorToConfig(err, `macro ${p.item.macro}`, 'condition', p.file, p.keyLines.condition ?? p.line));
      }
    }
  }

  const rules: CompiledRule[] = [];
  const disabled: string[] = [];
  for (const { item, file, line, keyLines } of ruleItems) {
    const conditionLine = keyLines.condition ?? line;
    try {
      const text = item.exceptions?.length
        ? `(${item.condition})${item.exceptions.map((e) => ` && !(${e.condition})`).join('')}`
        : item.condition;
      const compiled = compileCondition(text, macros, listNames, item.events ?? null, listIndexes);
      let output: OutputTemplate;
      try {
        output = compileOutput(item.output);
      } catch (err) {
        throw configError(`output (rule ${item.rule})`, (err as Error).message, { file, line: keyLines.output ?? line });
      }
      const outputProblem = checkPaths(output.paths, compiled.types);
      if (outputProblem) throw configError(`output (rule ${item.rule})`, outputProblem, { file, line: keyLines.output ?? line });
      for (const path of [...compiled.refs.paths, ...output.paths]) builder.definePath(path);
      if (item.enabled === false) {
        disabled.push(item.rule);
        continue;
      }
      rules.push({
        name: item.rule,
        desc: item.desc ?? '',
        priority: normalisePriority(item.priority)!,
        tags: item.tags ?? [],
        types: compiled.types,
        condition: compiled.expanded,
        program: compiled.program,
        engine: compiled.engine,
        output,
        file,
        line,
      });
    } catch (err) {
      if ((err as BoxwatchError).code === 'ERR_CONFIG') errors.push(err as BoxwatchError);
      else errors.push(conditionErrorToConfig(err, `rule ${item.rule}`, 'condition', file, conditionLine));
    }
  }
  return new RuleSet(rules, errors, disabled, builder, runtimeDisabled);
}
