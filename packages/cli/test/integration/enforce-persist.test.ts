/**
 * Enforcement policies added through the control API survive a restart: `boxwatch run` takes a
 * policy over HTTP and saves it in `<stateDir>/enforce-policies.yaml` (0600); the next start on
 * the same state directory has it in force before any container (a `docker run --rm` container
 * that breaks it is killed), even without a --policy file; a policy deleted through the API is
 * gone after the next restart. A corrupt store stops the start naming file, line and field, and
 * nothing in the state directory changes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, CliProcess, IMAGE, ensureBuilt, ensureImage, readToken, tempDir, testName } from '../harness.js';

const victim = testName('enfp');
const processes: CliProcess[] = [];
let state: string;
let out: string;
let policyFile: string;
let store: string;

/** One start of `boxwatch run` on the shared state directory; `withFile` adds the --policy file. */
async function start(withFile: boolean) {
  const p = new CliProcess(['run', ...(withFile ? ['--policy', policyFile] : []), '-p', 'syscall', '--format', 'ndjson', '--status', 'never', '--state-dir', state, '--api-port', '0', '--no-models']);
  processes.push(p);
  const api = await p.apiUrl();
  const headers = { authorization: `Bearer ${readToken(state)}` };
  return {
    p,
    list: async () => ((await (await fetch(`${api}/v1/enforce/policies`, { headers })).json()) as { policies: Array<{ name: string; origin: string; action: string }> }).policies.map((x) => `${x.name}:${x.origin}`),
    post: (text: string) => fetch(`${api}/v1/enforce/policies`, { method: 'POST', headers: { ...headers, 'content-type': 'application/yaml' }, body: text }),
    del: (name: string) => fetch(`${api}/v1/enforce/policies/${name}`, { method: 'DELETE', headers }),
  };
}

async function stop(p: CliProcess) {
  expect((await p.stop('SIGTERM')).code).toBe(0);
}

/** The victim breaks the saved policy: `unshare -m`, its exit status (137 when killed). */
function unshareInVictim(tag: string): string | null {
  const r = spawnSync('docker', ['run', '--rm', '--name', victim, '--network', 'none', '--cap-add', 'SYS_ADMIN', '-v', `${out}:/out`, IMAGE, 'sh', '-c', `unshare -m true; echo $? > /out/${tag}`], { encoding: 'utf8' });
  expect(r.status).toBe(0);
  const f = join(out, tag);
  return existsSync(f) ? readFileSync(f, 'utf8').trim() : null;
}

beforeAll(async () => {
  ensureBuilt();
  await ensureImage();
  state = tempDir();
  out = tempDir();
  policyFile = join(out, 'p.yaml');
  store = join(state, 'enforce-policies.yaml');
  writeFileSync(policyFile, `- policy: from-file\n  containers: [${testName('nobody')}]\n  match: { syscalls: [bpf] }\n  action: audit\n`);
});

afterAll(async () => {
  for (const p of processes) await p.stop('SIGKILL');
  rmSync(state, { recursive: true, force: true });
  rmSync(out, { recursive: true, force: true });
});

describe('enforcement policies persisted across restarts', () => {
  it('an API policy is saved, in force after a restart, and a deleted one stays deleted', async () => {
    const first = await start(true);
    expect(existsSync(store)).toBe(false);
    const added = await first.post(`- policy: saved-kill\n  containers: [${victim}]\n  match: { syscalls: [unshare] }\n  action: kill\n`);
    expect(added.status).toBe(201);
    expect(await first.list()).toEqual(['from-file:file', 'saved-kill:api']);
    expect(statSync(store).mode & 0o777).toBe(0o600);
    expect(readFileSync(store, 'utf8')).toContain('policy: saved-kill');
    expect(readFileSync(store, 'utf8')).not.toContain('from-file');
    await stop(first.p);

    // Without the --policy file: the saved policy turns enforcement on by itself.
    const second = await start(false);
    expect(await second.list()).toEqual(['saved-kill:api']);
    const from = second.p.stdout.length;
    expect(unshareInVictim('u1')).toBe('137');
    const alert = await second.p.waitFor('stdout', (l) => l.json?.type === 'alert' && l.json.rule === 'enforce:saved-kill', 10_000, from);
    expect(alert.json).toMatchObject({ priority: 'critical', container: { name: victim } });

    const del = await second.del('saved-kill');
    expect(del.status).toBe(200);
    expect(await del.json()).toMatchObject({ removed: 'saved-kill', origin: 'api', policies: [] });
    expect(readFileSync(store, 'utf8')).not.toContain('saved-kill');
    await stop(second.p);

    const third = await start(true);
    expect(await third.list()).toEqual(['from-file:file']);
    expect(unshareInVictim('u2')).toBe('0');
    await stop(third.p);
  });

  it('a corrupt store stops the start with file:line: field and nothing in the state directory changes', () => {
    writeFileSync(store, `# saved\n- policy: saved-kill\n  containers: [${victim}]\n  match: { syscalls: [unshare, mounty] }\n  action: kill\n`, { mode: 0o600 });
    const snapshot = () => Object.fromEntries(readdirSync(state).map((f) => [f, readFileSync(join(state, f), 'utf8')]));
    const before = snapshot();
    const r = spawnSync(process.execPath, [CLI, 'run', '--policy', policyFile, '-p', 'syscall', '--status', 'never', '--state-dir', state, '--api-port', '0', '--no-models'], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`${store}:4: match.syscalls.1 (policy saved-kill): unknown syscall`);
    expect(r.stderr).toContain('fix or move the file away; it is left as it is');
    expect(snapshot()).toEqual(before);
  });
});
