/**
 * cnetwork rules added through the control API survive a restart: `boxwatch run` takes two rules
 * over HTTP, stops; `boxwatch agent` on the same state directory lists them (source api, next to
 * the config file's rule, source config) and the restored container pair is in the kernel map again
 * (traffic between the two containers yields net.banned with its id); a rule deleted through the API
 * stays deleted after the next restart. A corrupt rule file stops the start, names the file, and is
 * left untouched.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CliProcess, ensureBuilt, ensureImage, execIn, readToken, removeContainers, runContainer, tempDir, testName, until } from '../harness.js';

const names: string[] = [];
const processes: CliProcess[] = [];
let state: string;
let configFile: string;

interface ListedRule {
  id: string;
  source: string;
  a: unknown;
  b: unknown;
  addresses: { a: string[]; b: string[] };
}

/** One start of the command against the shared state directory and config file. */
async function start(command: 'run' | 'agent') {
  const args = command === 'run' ? ['run', '--status', 'never', '--format', 'ndjson'] : ['agent', '--output', 'ndjson'];
  const p = new CliProcess([...args, '--config', configFile]);
  processes.push(p);
  const api = await p.apiUrl();
  const token = readToken(state);
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  return {
    p,
    list: async () => (await (await fetch(`${api}/v1/cnetwork/rules`, { headers })).json()) as ListedRule[],
    post: (body: unknown) => fetch(`${api}/v1/cnetwork/rules`, { method: 'POST', headers, body: JSON.stringify(body) }),
    del: (id: string) => fetch(`${api}/v1/cnetwork/rules/${id}`, { method: 'DELETE', headers }),
  };
}

async function stop(p: CliProcess) {
  const { code } = await p.stop('SIGTERM');
  expect(code).toBe(0);
}

const stored = () => (JSON.parse(readFileSync(join(state, 'cnetwork-rules.json'), 'utf8')) as { rules: Array<{ id: string; source: string }> }).rules;

beforeAll(async () => {
  ensureBuilt();
  await ensureImage();
  state = tempDir();
  configFile = join(state, 'boxwatch.yaml');
  writeFileSync(
    configFile,
    [
      `stateDir: ${state}`,
      'plugins: [cnetwork]',
      'pluginOptions:',
      '  cnetwork:',
      '    rules:',
      '      - {id: from-config, a: 10.255.0.1, b: 10.255.0.2}',
      'api:',
      '  port: 0',
      'detector:',
      '  models: false',
      '',
    ].join('\n'),
  );
});

afterAll(async () => {
  await removeContainers(names);
  for (const p of processes) await p.stop('SIGKILL');
});

describe('cnetwork rules persisted across restarts', () => {
  it('API rules are saved, restored into the kernel map by the next start, and deletions persist', async () => {
    const a = testName('pa');
    const b = testName('pb');
    names.push(a, b);
    // A listens; B sends 64 KiB once /tmp/go exists (touched only after the restart).
    const server = await runContainer(a, 'mkfifo /tmp/in; exec 3<>/tmp/in; nc -l -p 5000 <&3 > /dev/null');
    const client = await runContainer(b, `while [ ! -e /tmp/go ]; do sleep 0.05; done; dd if=/dev/zero bs=4096 count=16 2>/dev/null | nc ${server.ip} 5000; sleep 600`);

    // 1. boxwatch run: two rules through the API.
    const first = await start('run');
    expect((await first.list()).map((r) => [r.id, r.source])).toEqual([['from-config', 'config']]);
    let r = await first.post({ id: 'persist-ban', a: { container: a }, b: { container: b }, description: 'restored after restart' });
    const view = (await r.json()) as ListedRule;
    expect(r.status, JSON.stringify(view)).toBe(201);
    expect(view).toMatchObject({ id: 'persist-ban', source: 'api', addresses: { a: [server.ip], b: [client.ip] } });
    r = await first.post({ a: '10.254.0.1', b: { ip: '10.254.0.2' } });
    expect(r.status).toBe(201);
    expect(((await r.json()) as ListedRule).id).toBe('api-1');
    expect(stored().map((x) => [x.id, x.source])).toEqual([['persist-ban', 'api'], ['api-1', 'api']]);
    await stop(first.p);

    // 2. boxwatch agent on the same state: the rules are back, in the kernel map.
    const second = await start('agent');
    // Restored before the API listens, so the log line is already there.
    expect(second.p.stderr.find((l) => l.json?.msg === 'saved cnetwork rules applied')?.json).toMatchObject({ applied: 2, skipped: [] });
    const listed = await second.list();
    expect(listed.map((x) => [x.id, x.source])).toEqual([['from-config', 'config'], ['persist-ban', 'api'], ['api-1', 'api']]);
    expect(listed[1]).toMatchObject({ a: { kind: 'container', container: a }, description: 'restored after restart', addresses: { a: [server.ip], b: [client.ip] } });
    const from = second.p.stdout.length;
    await execIn(b, ['touch', '/tmp/go']);
    const banned = await second.p.waitFor('stdout', (l) => l.json?.type === 'net.banned' && l.json.rule === 'persist-ban', 30_000, from);
    expect([banned.json!.saddr, banned.json!.daddr].sort()).toEqual([server.ip, client.ip].sort());
    await until(() => second.p.stdout.slice(from).filter((l) => l.json?.type === 'net.banned' && l.json.direction === 'send').reduce((s, l) => s + Number(l.json!.bytes), 0) === 64 * 1024, 10_000, 'all 64 KiB sent reported as banned');

    // Delete one API rule (and, for this run only, the config rule).
    expect((await second.del('api-1')).status).toBe(200);
    const cfgDel = await second.del('from-config');
    expect(await cfgDel.json()).toEqual({ removed: 'from-config', source: 'config' });
    expect(stored().map((x) => x.id)).toEqual(['persist-ban']);
    await stop(second.p);

    // 3. boxwatch run again: the deletion held, the config rule is back from the config file.
    const third = await start('run');
    expect((await third.list()).map((x) => [x.id, x.source])).toEqual([['from-config', 'config'], ['persist-ban', 'api']]);
    await stop(third.p);
  });

  it('a corrupt rule file stops the start with its name and the problem, and is left as it was', async () => {
    const file = join(state, 'cnetwork-rules.json');
    const corrupt = '{"version": 1, "rules": [{"id": "x", "a": "10.0.0.1"';
    writeFileSync(file, corrupt);
    const p = new CliProcess(['agent', '--output', 'ndjson', '--config', configFile]);
    processes.push(p);
    const { code } = await p.exited;
    expect(code).toBe(1);
    const err = p.stderr.map((l) => l.text).join('\n');
    expect(err).toContain(`boxwatch: ERR_CONFIG: ${file}: not valid JSON`);
    expect(readFileSync(file, 'utf8')).toBe(corrupt);
  });
});
