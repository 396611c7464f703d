/**
 * Rules switched off and on at run time: the switch applies to the very next event, a reload keeps
 * it, rules `enabled: false` in their file cannot be switched, unknown names are refused by name,
 * and a failing persist callback leaves everything as it was.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { isBoxwatchError } from '@boxwatch/core';
import { Detector, type AlertEvent } from '@boxwatch/detector';
import { open } from '../helpers/events.js';

const rule = (name: string, path: string, enabled?: boolean) => `
- rule: ${name}
  desc: test
  condition: evt.type == 'file.open' && evt.path.startsWith('${path}')
  output: "${name} {{evt.path}}"
  priority: WARNING
${enabled === undefined ? '' : `  enabled: ${enabled}\n`}`;

function setup(text = rule('shadow', '/etc/shadow') + rule('passwd', '/etc/passwd') + rule('off', '/off', false), disabledRules?: string[]) {
  const dir = mkdtempSync(join(tmpdir(), 'bw-switch-'));
  const file = join(dir, 'r.yaml');
  writeFileSync(file, text);
  const d = new Detector({ rules: [file], models: false, flushIntervalMs: 0, ...(disabledRules ? { disabledRules } : {}) });
  const alerts: AlertEvent[] = [];
  d.on('alert', (a) => alerts.push(a));
  let n = 0;
  // Distinct paths: the alerter folds identical messages into one alert.
  const read = (path: string) => d.ingest(open(`${path}.${++n}`, 'r', { pid: 100 + n }));
  return { d, file, alerts, read, rules: () => alerts.map((a) => a.rule) };
}

describe('run-time rule switch', () => {
  test('off applies to the next event, on likewise; other rules keep matching', () => {
    const { d, read, rules } = setup();
    read('/etc/shadow');
    const set = d.setRuleEnabled('shadow', false);
    expect(set.rules.map((r) => r.name)).toEqual(['passwd']);
    expect([...set.runtimeDisabled]).toEqual(['shadow']);
    read('/etc/shadow');
    read('/etc/passwd');
    d.setRuleEnabled('shadow', true);
    read('/etc/shadow');
    expect(rules()).toEqual(['shadow', 'passwd', 'shadow']);
    void d.close();
  });

  test('counters carry on across a switch (it is not a reload)', () => {
    const { d, read } = setup();
    read('/etc/shadow');
    d.setRuleEnabled('shadow', false);
    read('/etc/passwd');
    expect(d.stats().rules).toMatchObject({ loaded: 1, matches: 2, reloads: 0 });
    void d.close();
  });

  test('a reload keeps the run-time disabled set', () => {
    const { d, file, read, rules } = setup();
    d.setRuleEnabled('shadow', false);
    writeFileSync(file, rule('shadow', '/etc/shadow') + rule('passwd', '/etc/passwd') + rule('new', '/new'));
    d.reloadRules();
    expect(d.rules!.rules.map((r) => r.name)).toEqual(['passwd', 'new']);
    read('/etc/shadow');
    read('/new');
    expect(rules()).toEqual(['new']);
    void d.close();
  });

  test('disabledRules at construction hold from the first event', () => {
    const { d, read, rules } = setup(undefined, ['shadow']);
    read('/etc/shadow');
    read('/etc/passwd');
    expect(rules()).toEqual(['passwd']);
    void d.close();
  });

  test('unknown names are refused naming the rule; file-disabled rules cannot be switched', () => {
    const { d } = setup();
    const unknown = (() => {
      try {
        d.setRuleEnabled('nope', false);
      } catch (err) {
        return err;
      }
    })();
    expect(isBoxwatchError(unknown, 'ERR_NOT_FOUND')).toBe(true);
    expect((unknown as Error).message).toBe("no rule named 'nope' is loaded");
    for (const enabled of [true, false]) {
      expect(() => d.setRuleEnabled('off', enabled)).toThrow(/rule 'off' is disabled in its rule file \(enabled: false\)/);
    }
    expect(d.rules!.runtimeDisabled.size).toBe(0);
    void d.close();
  });

  test('a name held but no longer defined can be switched on (forgotten), not off again', () => {
    const { d, file } = setup(undefined, ['gone']);
    expect([...d.rules!.runtimeDisabled]).toEqual(['gone']);
    // Idempotent: already off.
    expect([...d.setRuleEnabled('gone', false).runtimeDisabled]).toEqual(['gone']);
    expect([...d.setRuleEnabled('gone', true).runtimeDisabled]).toEqual([]);
    expect(() => d.setRuleEnabled('gone', false)).toThrow(/no rule named 'gone'/);
    void file;
    void d.close();
  });

  test('persist sees the new set first; when it throws nothing changes', () => {
    const { d, read, rules } = setup();
    const seen: (readonly string[])[] = [];
    d.setRuleEnabled('shadow', false, (names) => seen.push(names));
    expect(seen).toEqual([['shadow']]);
    expect(() =>
      d.setRuleEnabled('passwd', false, () => {
        throw new Error('disk full');
      }),
    ).toThrow('disk full');
    expect([...d.rules!.runtimeDisabled]).toEqual(['shadow']);
    read('/etc/passwd');
    expect(rules()).toEqual(['passwd']);
    void d.close();
  });
});
