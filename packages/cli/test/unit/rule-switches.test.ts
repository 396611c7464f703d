/**
 * Rules switched off through the API: the state file round-trips (0600, atomic), a corrupt one is
 * refused naming file and field and left alone, and the routes switch a real detector (auth,
 * unknown names, file-disabled rules, a state file that cannot be written).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isBoxwatchError } from '@boxwatch/core';
import { Detector, defaultRulesPath } from '@boxwatch/detector';
import { Registry } from 'prom-client';
import type { FastifyInstance } from 'fastify';
import { RULE_SWITCHES_FILE, RuleSwitchStore } from '../../src/runtime/rule-switches.js';
import { buildControlApi } from '../../src/api/server.js';

const dir = () => mkdtempSync(join(tmpdir(), 'bwtest-cli-switch-'));

function loadError(file: string) {
  try {
    RuleSwitchStore.load(file);
  } catch (err) {
    if (isBoxwatchError(err, 'ERR_CONFIG')) return err;
    throw err;
  }
  throw new Error('expected ERR_CONFIG');
}

describe('disabled-rules file', () => {
  it('round-trips names in order, keeps the time of earlier entries, writes 0600', () => {
    const file = join(dir(), 'state', RULE_SWITCHES_FILE);
    const store = RuleSwitchStore.load(file);
    expect(store.names()).toEqual([]);
    expect(() => statSync(file)).toThrow();
    store.save(['a']);
    const at = store.since('a');
    store.save(['a', 'b']);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const again = RuleSwitchStore.load(file);
    expect(again.names()).toEqual(['a', 'b']);
    expect(again.since('a')).toBe(at);
    store.save(['b']);
    expect(RuleSwitchStore.load(file).names()).toEqual(['b']);
  });

  it('a corrupt file is refused naming the file and the field, and left as it is', () => {
    const d = dir();
    const file = join(d, RULE_SWITCHES_FILE);
    const cases: Array<[string, string, RegExp]> = [
      ['{"version": 1, "disabled": [', '(file)', /not valid JSON/],
      ['{"version": 2, "disabled": []}', 'version', /unsupported version/],
      ['{"version": 1, "disabled": [{"name": "x", "at": "2025-01-01T00:00:00Z"}, {"name": "", "at": "2025-01-01T00:00:00Z"}]}', 'disabled[1].name', /must be a rule name/],
      ['{"version": 1, "disabled": [{"name": "x", "at": "yesterday"}]}', 'disabled[0].at', /ISO 8601/],
      ['{"version": 1, "disabled": [{"name": "x", "at": "2025-01-01T00:00:00Z", "by": "me"}]}', 'disabled[0].by', /unknown field/],
      ['{"version": 1, "disabled": [{"name": "x", "at": "2025-01-01T00:00:00Z"}, {"name": "x", "at": "2025-01-01T00:00:00Z"}]}', 'disabled[1].name', /duplicate rule name 'x'/],
    ];
    for (const [text, field, problem] of cases) {
      writeFileSync(file, text);
      const err = loadError(file);
      expect(err.field).toBe(field);
      expect(err.message).toMatch(problem);
      expect(err.message.startsWith(`${file}: `)).toBe(true);
      expect(readFileSync(file, 'utf8')).toBe(text);
    }
  });
});

describe('POST /v1/rules/:name/enable|disable', () => {
  const TOKEN = 'x'.repeat(32);
  let app: FastifyInstance | null = null;
  let detector: Detector | null = null;
  afterEach(async () => {
    await app?.close();
    await detector?.close();
  });

  async function setup(stateDir = dir()) {
    const rulesFile = join(stateDir, 'extra.yaml');
    writeFileSync(
      rulesFile,
      `- rule: Off in file\n  desc: x\n  condition: evt.type == 'file.open' && evt.path == '/x'\n  output: "x"\n  priority: notice\n  enabled: false\n` +
        `- rule: Write /tmp 100% of the time?\n  desc: x\n  condition: evt.type == 'file.open' && evt.path == '/y'\n  output: "y"\n  priority: notice\n`,
    );
    const store = RuleSwitchStore.load(join(stateDir, RULE_SWITCHES_FILE));
    detector = new Detector({ rules: [defaultRulesPath(), rulesFile], models: false, flushIntervalMs: 0, disabledRules: store.names(), saveDisabledRules: (n) => store.save(n) });
    app = await buildControlApi({ token: TOKEN, detector, metrics: new Registry() });
    const call = async (method: string, url: string, auth = true) => {
      const r = await app!.inject({ method: method as 'GET', url, headers: auth ? { authorization: `Bearer ${TOKEN}` } : {} });
      return { status: r.statusCode, body: r.json() as Record<string, unknown> };
    };
    const state = async (name: string) => ((await call('GET', '/v1/rules')).body.rules as Array<{ name: string; enabled: boolean; setBy: string }>).find((r) => r.name === name);
    return { call, state, store, stateDir };
  }

  const RSF = `/v1/rules/${encodeURIComponent('Read sensitive file')}`;

  it('switches a rule off and on, saving the state; GET shows who set it', async () => {
    const { call, state, store } = await setup();
    expect(await state('Read sensitive file')).toMatchObject({ enabled: true, setBy: 'file' });
    const off = await call('POST', `${RSF}/disable`);
    expect(off).toMatchObject({ status: 200, body: { name: 'Read sensitive file', enabled: false, setBy: 'api' } });
    expect(await state('Read sensitive file')).toMatchObject({ enabled: false, setBy: 'api' });
    expect(store.names()).toEqual(['Read sensitive file']);
    expect(detector!.rules!.rules.some((r) => r.name === 'Read sensitive file')).toBe(false);
    expect((await call('GET', '/v1/rules')).body.apiDisabled).toEqual(['Read sensitive file']);
    expect((await call('POST', `${RSF}/disable`)).status).toBe(200); // idempotent
    expect((await call('POST', `${RSF}/enable`)).body).toMatchObject({ enabled: true, setBy: 'file' });
    expect(RuleSwitchStore.load(store.file).names()).toEqual([]);
  });

  it('needs the token; refuses unknown rules, unknown actions and file-disabled rules, changing nothing', async () => {
    const { call, store } = await setup();
    expect((await call('POST', `${RSF}/disable`, false)).status).toBe(401);
    expect(await call('POST', '/v1/rules/No%20such%20rule/disable')).toEqual({
      status: 404,
      body: { error: 'Not Found', field: 'name', message: "no rule named 'No such rule' is loaded" },
    });
    expect((await call('POST', `${RSF}/pause`)).status).toBe(404);
    const fileOff = await call('POST', '/v1/rules/Off%20in%20file/enable');
    expect(fileOff.status).toBe(409);
    expect(fileOff.body.message).toMatch(/disabled in its rule file \(enabled: false\)/);
    expect(store.names()).toEqual([]);
    expect(detector!.rules!.runtimeDisabled.size).toBe(0);
  });

  it('names with slashes, percent signs and question marks work URL-encoded', async () => {
    const { call, store } = await setup();
    const name = 'Write /tmp 100% of the time?';
    expect(await call('POST', `/v1/rules/${encodeURIComponent(name)}/disable`)).toMatchObject({ status: 200, body: { name, enabled: false, setBy: 'api' } });
    expect(store.names()).toEqual([name]);
  });

  it('a state file that cannot be written: 500, the rule stays as it was', async () => {
    const stateDir = join(dir(), 'ro');
    mkdirSync(stateDir);
    const { call, state } = await setup(stateDir);
    chmodSync(stateDir, 0o500);
    try {
      // root ignores directory permissions; a directory where the file should be fails for everyone.
      mkdirSync(join(stateDir, RULE_SWITCHES_FILE));
    } catch {
      /* not root: the read-only directory already fails */
    }
    const r = await call('POST', `${RSF}/disable`);
    chmodSync(stateDir, 0o700);
    expect(r.status).toBe(500);
    expect(r.body.message).toMatch(/cannot save .*rules-disabled\.json.*; the rule was not switched/);
    expect(await state('Read sensitive file')).toMatchObject({ enabled: true, setBy: 'file' });
  });
});
