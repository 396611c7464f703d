/**
 * `boxwatch rules lint FILE...`: compile rule files exactly as the detector would (in order, so a
 * file may use the lists and macros of the files before it) and print every problem as file:line.
 */
import { RuleEngine, defaultRulesPath } from '@boxwatch/detector';
import { silentLogger } from '@boxwatch/core';

export interface LintResult {
  rules: number;
  errors: string[];
}

export function lintRules(files: readonly string[], withDefault: boolean): LintResult {
  const sources = withDefault ? [defaultRulesPath(), ...files] : [...files];
  const engine = new RuleEngine({ sources, logger: silentLogger });
  const set = engine.current;
  engine.close();
  return { rules: set.rules.length, errors: set.errors.map((e) => e.message) };
}
