import { describe, expect, it } from 'vitest';
import { Worker } from 'node:worker_threads';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isBoxwatchError, silentLogger } from '@boxwatch/core';
import { CNetworkPlugin } from '@boxwatch/plugin-cnetwork';
import { RULE_STORE_FILE, RuleStore } from '../../src/runtime/rule-store.js';
import { writeFileAtomic } from '../../src/runtime/state-file.js';
import { CNetworkRuleService } from '../../src/runtime/cnetwork-rules.js';

const dir = () => mkdtempSync(join(tmpdir(), 'bwtest-cli-rules-'));

function loadError(file: string) {
  try {
    RuleStore.load(file);
  } catch (err) {
    if (isBoxwatchError(err, 'ERR_CONFIG')) return err;
    throw err;
  }
  throw new Error('expected ERR_CONFIG');
}

const rule = (id: string, extra: Record<string, unknown> = {}) => ({ id, a: '10.0.0.1', b: { container: 'db' }, source: 'api', addedAt: '2025-01-02T03:04:05.000Z', ...extra });

describe('cnetwork rule store', () => {
  it('round-trips rules through the file, in order, and removes them', () => {
    const file = join(dir(), 'state', RULE_STORE_FILE);
    const store = RuleStore.load(file);
    expect(store.list()).toEqual([]);
    expect(() => statSync(file)).toThrow(); // nothing written until a change

    store.put({ id: 'web-db', a: { container: 'web' }, b: { container: 'db' }, description: 'no direct access' });
    store.put({ id: 'api-1', a: '10.0.0.1', b: { ip: 'fd00::2' } });
    store.put({ id: 'x', a: '10.0.0.3', b: '10.0.0.4', addedAt: '2025-01-02T03:04:05.000Z' });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(file, '..')).mode & 0o777).toBe(0o700);

    const again = RuleStore.load(file);
    expect(again.list()).toEqual(store.list());
    expect(again.list().map((r) => r.id)).toEqual(['web-db', 'api-1', 'x']);
    expect(again.list()[0]).toMatchObject({ id: 'web-db', a: { container: 'web' }, b: { container: 'db' }, description: 'no direct access', source: 'api' });
    expect(Date.parse(again.list()[0]!.addedAt)).toBeGreaterThan(Date.now() - 60_000);
    expect(again.list()[2]!.addedAt).toBe('2025-01-02T03:04:05.000Z');
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ version: 1, rules: [{ id: 'web-db' }, { id: 'api-1' }, { id: 'x' }] });

    expect(again.remove('api-1')).toBe(true);
    expect(again.remove('api-1')).toBe(false);
    expect(RuleStore.load(file).list().map((r) => r.id)).toEqual(['web-db', 'x']);
    // no temp files left next to it
    expect(readdirSync(join(file, '..'))).toEqual([RULE_STORE_FILE]);
  });

  it('a corrupt file is an ERR_CONFIG naming the file and the problem, and the file is left as it was', () => {
    const d = dir();
    const cases: Array<[string, RegExp, string]> = [
      ['{"version": 1, "rules": [', /not valid JSON/, '(file)'],
      ['', /not valid JSON/, '(file)'],
      [JSON.stringify({ version: 2, rules: [] }), /unsupported version/, 'version'],
      [JSON.stringify({ version: 1 }), /expected array/, 'rules'],
      [JSON.stringify({ version: 1, rules: [rule('a'), rule('b', { a: '10.0.0.300' })] }), /not an IPv4 or IPv6 address/, 'rules[1].a'],
      [JSON.stringify({ version: 1, rules: [rule('a', { b: { container: 'bad name!' } })] }), /not a container id or name/, 'rules[0].b.container'],
      [JSON.stringify({ version: 1, rules: [rule('a'), rule('a')] }), /duplicate rule id 'a'/, 'rules[1].id'],
      [JSON.stringify({ version: 1, rules: [rule('a', { source: 'config' })] }), /api/, 'rules[0].source'],
      [JSON.stringify({ version: 1, rules: [rule('a', { extra: 1 })] }), /unknown field/, 'rules[0].extra'],
      [JSON.stringify([]), /expected object/, '(root)'],
    ];
    for (const [text, problem, field] of cases) {
      const file = join(d, `${cases.findIndex((c) => c[0] === text)}.json`);
      writeFileSync(file, text);
      const err = loadError(file);
      expect(err.message, text).toMatch(problem);
      expect(err.message, text).toContain(file);
      expect(err.file).toBe(file);
      expect(err.field, text).toBe(field);
      expect(readFileSync(file, 'utf8')).toBe(text);
    }
    // unreadable (a directory where the file should be)
    const asDir = join(d, 'dir.json');
    mkdirSync(asDir);
    expect(loadError(asDir).message).toMatch(/cannot read the cnetwork rule file/);
  });

  it('a failed write leaves the old file and the store as they were', () => {
    const d = dir();
    const state = join(d, 'state');
    const file = join(state, RULE_STORE_FILE);
    const store = RuleStore.load(file);
    store.put({ id: 'keep', a: '10.0.0.1', b: '10.0.0.2' });
    const before = readFileSync(file, 'utf8');
    // The state directory is replaced by a regular file: every write fails (ENOTDIR).
    renameSync(state, join(d, 'moved'));
    writeFileSync(state, 'not a directory');
    expect(() => store.put({ id: 'new', a: '10.0.0.3', b: '10.0.0.4' })).toThrow(/ENOTDIR|EEXIST|not a directory/);
    expect(() => store.remove('keep')).toThrow();
    expect(store.list().map((r) => r.id)).toEqual(['keep']);
    expect(readFileSync(join(d, 'moved', RULE_STORE_FILE), 'utf8')).toBe(before);
  });

  it('writes atomically: a concurrent reader only ever sees a complete file', async () => {
    const file = join(dir(), 'big.json');
    // ~2 MiB per version: large enough that an in-place rewrite is seen half-written.
    const version = (n: number) => JSON.stringify({ n, pad: String(n % 10).repeat(2 << 20) });
    writeFileAtomic(file, version(0));
    const reader = new Worker(
      `const { readFileSync } = require('node:fs');
       const { parentPort, workerData } = require('node:worker_threads');
       let reads = 0, torn = 0, stop = false;
       parentPort.on('message', () => { stop = true; });
       (function loop() {
         for (let i = 0; i < 20; i++) {
           const text = readFileSync(workerData, 'utf8');
           reads++;
           try { JSON.parse(text); } catch { torn++; }
         }
         if (stop) parentPort.postMessage({ reads, torn }); else setImmediate(loop);
       })();`,
      { eval: true, workerData: file },
    );
    for (let n = 1; n <= 60; n++) writeFileAtomic(file, version(n));
    const result = await new Promise<{ reads: number; torn: number }>((resolve) => {
      reader.once('message', resolve);
      reader.postMessage('stop');
    });
    await reader.terminate();
    expect(result.reads).toBeGreaterThan(20);
    expect(result.torn).toBe(0);
    expect(JSON.parse(readFileSync(file, 'utf8')).n).toBe(60);
  });
});

describe('cnetwork rules: config vs API, restore', () => {
  const config = (rules: unknown[]) => new CNetworkPlugin({ rules: rules as never });

  it('API rules are persisted with generated api-<n> ids, listed as source api, and restored into a new plugin', async () => {
    const file = join(dir(), RULE_STORE_FILE);
    const first = new CNetworkRuleService(RuleStore.load(file), silentLogger);
    const p1 = config([]);
    await p1.addRule({ id: 'cfg', a: '10.1.0.1', b: '10.1.0.2' }); // as the plugin installs config rules
    expect((await first.add(p1, { a: '10.2.0.1', b: '10.2.0.2' })).id).toBe('api-1');
    expect(await first.add(p1, { id: 'named', a: '10.3.0.1', b: { ip: '10.3.0.2' }, description: 'd' })).toMatchObject({ id: 'named', source: 'api' });
    expect((await first.add(p1, { a: '10.4.0.1', b: '10.4.0.2' })).id).toBe('api-2');
    expect(first.list(p1).map((r) => [r.id, r.source])).toEqual([['cfg', 'config'], ['api-1', 'api'], ['named', 'api'], ['api-2', 'api']]);
    expect(await first.remove(p1, 'api-2')).toEqual({ removed: 'api-2', source: 'api' });
    expect(await first.remove(p1, 'api-2')).toBeNull();
    expect(RuleStore.load(file).list().map((r) => r.id)).toEqual(['api-1', 'named']);

    // "Restart": a new plugin with the config rule, a new service over the same file.
    const second = new CNetworkRuleService(RuleStore.load(file), silentLogger);
    const p2 = config([]);
    await p2.addRule({ id: 'cfg', a: '10.1.0.1', b: '10.1.0.2' });
    expect(await second.restore(p2)).toEqual({ applied: ['api-1', 'named'], skipped: [] });
    expect(second.list(p2).map((r) => [r.id, r.source, r.addresses])).toEqual([
      ['cfg', 'config', { a: ['10.1.0.1'], b: ['10.1.0.2'] }],
      ['api-1', 'api', { a: ['10.2.0.1'], b: ['10.2.0.2'] }],
      ['named', 'api', { a: ['10.3.0.1'], b: ['10.3.0.2'] }],
    ]);
    expect(second.list(p2)[2]!.description).toBe('d');
    // Restoring again (plugin re-enabled with its rules kept) changes nothing.
    expect(await second.restore(p2)).toEqual({ applied: [], skipped: [] });
    // Removing a config rule leaves the file alone (it comes back from the config at the next start).
    expect(await second.remove(p2, 'cfg')).toEqual({ removed: 'cfg', source: 'config' });
    expect(RuleStore.load(file).list().map((r) => r.id)).toEqual(['api-1', 'named']);
  });

  it('a saved rule whose id a config rule now uses is skipped, kept in the file, and concurrent adds get distinct ids', async () => {
    const file = join(dir(), RULE_STORE_FILE);
    const s1 = new CNetworkRuleService(RuleStore.load(file), silentLogger);
    const p1 = config([]);
    const views = await Promise.all([1, 2, 3].map((i) => s1.add(p1, { a: `10.5.0.${i}`, b: '10.5.1.1' })));
    expect(views.map((v) => v.id).sort()).toEqual(['api-1', 'api-2', 'api-3']);

    const s2 = new CNetworkRuleService(RuleStore.load(file), silentLogger);
    const p2 = config([]);
    await p2.addRule({ id: 'api-2', a: '10.9.0.1', b: '10.9.0.2' }); // a config rule took the id
    expect(await s2.restore(p2)).toEqual({ applied: ['api-1', 'api-3'], skipped: ['api-2'] });
    expect(s2.sourceOf('api-2')).toBe('config');
    expect(RuleStore.load(file).list().map((r) => r.id)).toEqual(['api-1', 'api-2', 'api-3']);
  });

  it('a rule that cannot be saved is not added to the plugin either', async () => {
    const d = dir();
    const state = join(d, 'state');
    const svc = new CNetworkRuleService(RuleStore.load(join(state, RULE_STORE_FILE)), silentLogger);
    writeFileSync(state, 'not a directory');
    const plugin = config([]);
    await expect(svc.add(plugin, { id: 'lost', a: '10.6.0.1', b: '10.6.0.2' })).rejects.toMatchObject({ code: 'ERR_STATE' });
    expect(plugin.listRules()).toEqual([]);
  });
});
