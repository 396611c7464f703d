/** Rule file errors name file:line and the rule; a bad rule does not stop the others; reload swaps sets. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { isBoxwatchError } from '@boxwatch/core';
import { Detector, RuleEngine, compileRuleSet, parseRuleText, type AlertEvent } from '@boxwatch/detector';
import { exec, open } from '../helpers/events.js';

const good = (name: string, cond = "evt.type == 'process.exec' && proc.name == 'sh'") => `
- rule: ${name}
  desc: test
  condition: ${cond}
  output: "x {{proc.exe}}"
  priority: WARNING
`;

function errorsOf(text: string) {
  return compileRuleSet([parseRuleText(text, 'rules.yaml')]).errors;
}

describe('rule file errors', () => {
  test('bad YAML → ERR_CONFIG at the YAML line', () => {
    const errs = errorsOf(`- rule: a\n  desc: x\n  condition: "unterminated\n  output: y\n`);
    expect(errs.length).toBeGreaterThan(0);
    expect(isBoxwatchError(errs[0], 'ERR_CONFIG')).toBe(true);
    expect(errs[0]!.file).toBe('rules.yaml');
    expect(errs[0]!.line).toBeGreaterThanOrEqual(3);
    expect(errs[0]!.message).toMatch(/^rules\.yaml:\d+: /);
  });

  test('bad CEL → ERR_CONFIG at the condition line naming the rule; the other rule still loads', () => {
    const text = good('ok') + `
- rule: broken
  desc: test
  condition: evt.type == 'process.exec' &&
  output: "x"
  priority: WARNING
`;
    const set = compileRuleSet([parseRuleText(text, 'rules.yaml')]);
    expect(set.rules.map((r) => r.name)).toEqual(['ok']);
    expect(set.errors).toHaveLength(1);
    expect(set.errors[0]!.code).toBe('ERR_CONFIG');
    expect(set.errors[0]!.line).toBe(10);
    expect(set.errors[0]!.message).toContain('rule broken');
  });

  test('unknown event field for the rule types → ERR_CONFIG', () => {
    const errs = errorsOf(good('typo', "evt.type == 'process.exec' && evt.filname == '/bin/sh'"));
    expect(errs).toHaveLength(1);
    expect(errs[0]!.message).toContain('unknown field evt.filname');
    expect(errs[0]!.line).toBe(4);
  });

  test('unknown proc field, unknown identifier and unknown output field are reported', () => {
    expect(errorsOf(good('p', "evt.type == 'process.exec' && proc.exename == 'x'"))[0]!.message).toContain('proc.exename');
    expect(errorsOf(good('i', "evt.type == 'process.exec' && proc.name in no_such_list"))[0]!.message).toContain('no_such_list');
    const out = `- rule: o\n  desc: x\n  condition: evt.type == 'file.open'\n  output: "{{evt.argv}}"\n  priority: notice\n`;
    const e = errorsOf(out)[0]!;
    expect(e.message).toContain('evt.argv');
    expect(e.line).toBe(4);
  });

  test('duplicate rule name → ERR_CONFIG at the second definition', () => {
    const errs = errorsOf(good('dup') + good('dup'));
    expect(errs).toHaveLength(1);
    expect(errs[0]!.message).toContain('duplicate rule name');
    expect(errs[0]!.line).toBe(8);
  });

  test('bad priority and unknown keys name the key line', () => {
    const e1 = errorsOf(`- rule: a\n  desc: x\n  condition: "true"\n  output: x\n  priority: LOUD\n`)[0]!;
    expect(e1.line).toBe(5);
    expect(e1.field).toContain('priority');
    const e2 = errorsOf(`- rule: a\n  desc: x\n  condtion: "true"\n  output: x\n  priority: info\n`)[0]!;
    expect(e2.code).toBe('ERR_CONFIG');
  });

  test('a broken macro is reported at the macro line', () => {
    const errs = errorsOf(`- macro: m\n  condition: evt.type ==\n` + good('uses_m', 'm'));
    expect(errs.some((e) => e.line === 2 && e.message.includes('macro m'))).toBe(true);
  });

  test('lists, list append, macros and exceptions work together', () => {
    const text = `
- list: tools
  items: [nc]
- list: tools
  items: [socat]
  append: true
- macro: spawned
  condition: evt.type == 'process.exec'
- rule: tool
  desc: x
  condition: spawned && proc.name in tools
  exceptions:
    - name: healthcheck
      condition: proc.argv.exists(a, a == '-z')
  output: "{{proc.cmdline}}"
  priority: notice
`;
    const d = new Detector({ rules: [{ file: 'inline.yaml', text }], models: false, flushIntervalMs: 0 });
    const alerts: AlertEvent[] = [];
    d.on('alert', (a) => alerts.push(a));
    d.ingest(exec('/usr/bin/socat', ['socat', 'x', 'y'], { pid: 1 }));
    d.ingest(exec('/usr/bin/nc', ['nc', '-z', 'db', '5432'], { pid: 2 }));
    d.ingest(exec('/usr/bin/curl', ['curl'], { pid: 3 }));
    expect(alerts.map((a) => a.message)).toEqual(['socat x y']);
    void d.close();
  });
});

describe('reload', () => {
  test('file change swaps the rule set; a later unreadable save keeps the previous rules', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bw-rules-'));
    const file = join(dir, 'r.yaml');
    writeFileSync(file, good('first', "evt.type == 'file.open' && evt.path == '/a'"));
    const engine = new RuleEngine({ sources: [file], watch: true, reloadDelayMs: 20 });
    expect(engine.current.rules.map((r) => r.name)).toEqual(['first']);
    const loaded = new Promise<void>((resolve) => {
      const t = setInterval(() => {
        if (engine.current.rules[0]?.name === 'second') {
          clearInterval(t);
          resolve();
        }
      }, 10);
    });
    writeFileSync(file, good('second', "evt.type == 'file.open' && evt.path == '/b'"));
    await loaded;
    expect(engine.reloadCount).toBeGreaterThanOrEqual(1);
    writeFileSync(file, '- rule: [broken\n');
    const errs = engine.reload();
    expect(errs[0]!.code).toBe('ERR_CONFIG');
    expect(engine.current.rules.map((r) => r.name)).toEqual(['second']);
    engine.close();
  });

  test('events keep flowing through a reload', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bw-rules-'));
    const file = join(dir, 'r.yaml');
    writeFileSync(file, good('w', "evt.type == 'file.open' && evt.path == '/a'"));
    const d = new Detector({ rules: [file], models: false, flushIntervalMs: 0 });
    const alerts: AlertEvent[] = [];
    d.on('alert', (a) => alerts.push(a));
    d.ingest(open('/a', 'r'));
    writeFileSync(file, good('w2', "evt.type == 'file.open' && evt.path == '/b'"));
    d.reloadRules();
    d.ingest(open('/b', 'r'));
    d.ingest(open('/a', 'r', { pid: 5 }));
    expect(alerts.map((a) => a.rule)).toEqual(['w', 'w2']);
    void d.close();
  });
});
