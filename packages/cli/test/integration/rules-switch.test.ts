/**
 * Rules switched off and on through the control API of a real `boxwatch run`, with real containers.
 * Each `docker run --rm` container reads /etc/shadow and then writes below /etc: the 'Write below
 * etc' alert is the proof that the container's events went through the detector, and since the
 * fileopen events reach it in kernel order, its shadow read was evaluated before. While 'Read
 * sensitive file' is off no such alert comes for the container; switched on, the next container
 * gets one; switched off again, the state survives a restart on the same state directory. A corrupt
 * state file stops the start naming the file and the field.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CliProcess, ensureBuilt, ensureImage, IMAGE, readToken, tempDir, testName, type Line } from '../harness.js';

const RSF = 'Read sensitive file';
const processes: CliProcess[] = [];
let state: string;
let configFile: string;

interface RuleView {
  name: string;
  enabled: boolean;
  setBy: 'file' | 'api';
}

async function start() {
  const p = new CliProcess(['run', '--status', 'never', '--format', 'ndjson', '--config', configFile]);
  processes.push(p);
  const api = await p.apiUrl();
  const headers = { authorization: `Bearer ${readToken(state)}` };
  return {
    p,
    rule: async (name: string) => ((await (await fetch(`${api}/v1/rules`, { headers })).json()) as { rules: RuleView[] }).rules.find((r) => r.name === name),
    // `auth: false` sends no token.
    switchRule: async (name: string, action: 'enable' | 'disable', auth = true) => {
      const r = await fetch(`${api}/v1/rules/${encodeURIComponent(name)}/${action}`, { method: 'POST', headers: auth ? headers : {} });
      return { status: r.status, body: (await r.json()) as Record<string, unknown> };
    },
  };
}

/**
 * A `docker run --rm` container that reads /etc/shadow, then writes below /etc; resolves with the
 * alerts of that container (by id) once 'Write below etc' is in: its event is the container's last,
 * and alerts come out in event order (see the config), so every alert of the container is in then.
 */
async function shadowReader(p: CliProcess): Promise<string[]> {
  const dir = tempDir();
  const cidfile = join(dir, 'cid');
  const name = testName('switch');
  const from = p.stdout.length;
  await promisify(execFile)('docker', ['run', '--rm', '--name', name, '--network', 'none', '--cidfile', cidfile, IMAGE, 'sh', '-c', 'cat /etc/shadow > /dev/null; echo x > /etc/bwtest-written']);
  const id = readFileSync(cidfile, 'utf8').trim();
  const mine = (l: Line) => l.json?.type === 'alert' && (l.json.container as { id?: string } | null)?.id === id;
  await p.waitFor('stdout', (l) => mine(l) && l.json!.rule === 'Write below etc', 30_000, from);
  // Only the two rules this container is about (runtime set-up may trip others, depending on timing).
  return p.stdout.slice(from).filter(mine).map((l) => String(l.json!.rule)).filter((r) => r === RSF || r === 'Write below etc');
}

const saved = () => JSON.parse(readFileSync(join(state, 'rules-disabled.json'), 'utf8')) as { version: number; disabled: Array<{ name: string; at: string }> };

beforeAll(async () => {
  ensureBuilt();
  await ensureImage();
  state = tempDir();
  configFile = join(state, 'boxwatch.yaml');
  // alertNameWaitMs 0: alerts are raised while their event is evaluated, never held for the
  // container's name, so they come out in event order and "the last one is in" means "all are in".
  // Alerts are matched by container id (from the cidfile), which every event carries.
  writeFileSync(configFile, [`stateDir: ${state}`, 'plugins: [fileopen]', 'api:', '  port: 0', 'detector:', '  models: false', '  alertNameWaitMs: 0', ''].join('\n'));
});

afterAll(async () => {
  for (const p of processes) await p.stop('SIGKILL');
});

describe('rules switched through the control API', () => {
  it('off: no alert; on: the next container alerts; off again survives a restart', async () => {
    const first = await start();
    expect(await first.rule(RSF)).toMatchObject({ enabled: true, setBy: 'file' });
    expect((await first.switchRule(RSF, 'disable', false)).status).toBe(401);
    expect(await first.rule(RSF)).toMatchObject({ enabled: true });
    const unknown = await first.switchRule('Read sensitive files', 'disable');
    expect(unknown).toEqual({ status: 404, body: { error: 'Not Found', field: 'name', message: "no rule named 'Read sensitive files' is loaded" } });

    expect(await first.switchRule(RSF, 'disable')).toMatchObject({ status: 200, body: { name: RSF, enabled: false, setBy: 'api' } });
    expect(await first.rule(RSF)).toMatchObject({ enabled: false, setBy: 'api' });
    expect(saved().disabled.map((d) => d.name)).toEqual([RSF]);
    expect(statSync(join(state, 'rules-disabled.json')).mode & 0o777).toBe(0o600);
    expect(await shadowReader(first.p)).toEqual(['Write below etc']);

    expect(await first.switchRule(RSF, 'enable')).toMatchObject({ status: 200, body: { enabled: true, setBy: 'file' } });
    expect(saved().disabled).toEqual([]);
    expect(await shadowReader(first.p)).toEqual([RSF, 'Write below etc']);

    expect((await first.switchRule(RSF, 'disable')).status).toBe(200);
    expect((await first.p.stop('SIGTERM')).code).toBe(0);

    const second = await start();
    expect(await second.rule(RSF)).toMatchObject({ enabled: false, setBy: 'api' });
    expect(await shadowReader(second.p)).toEqual(['Write below etc']);
    expect((await second.p.stop('SIGTERM')).code).toBe(0);
  });

  it('a corrupt state file stops the start naming the file and the field, and is left as it was', async () => {
    const file = join(state, 'rules-disabled.json');
    const corrupt = '{"version": 1, "disabled": [{"name": "Read sensitive file"}]}';
    writeFileSync(file, corrupt);
    const p = new CliProcess(['run', '--status', 'never', '--format', 'ndjson', '--config', configFile]);
    processes.push(p);
    const { code } = await p.exited;
    expect(code).toBe(1);
    const err = p.stderr.map((l) => l.text).join('\n');
    expect(err).toContain(`boxwatch: ERR_CONFIG: ${file}: disabled[0].at: `);
    expect(readFileSync(file, 'utf8')).toBe(corrupt);
  });
});
