/**
 * Enforcement through the boxwatch command: `run --policy FILE` kills a `docker run --rm`
 * container that execs a binary it dropped in /tmp (before the binary writes its marker) and
 * prints the enforcement as an alert; the control API lists, adds and removes policies at run
 * time, refusing a bad one with its line and field while the policies in force stay; `agent
 * --policy` runs the same policies; a bad policy file stops the start naming file:line: field.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, CliProcess, ensureBuilt, ensureImage, IMAGE, readToken, tempDir, testName, type Line } from '../harness.js';

const A = testName('enf-a');
const U = testName('enf-u');
let cli: CliProcess;
let api: string;
let token: string;
let state: string;
let out: string;

/** `docker run --rm` acting at once (no network, /out = a directory of this test); its exit status. */
function runNow(name: string, script: string, extra: string[] = []): number {
  const r = spawnSync('docker', ['run', '--rm', '--name', name, '--network', 'none', '-v', `${out}:/out`, ...extra, IMAGE, 'sh', '-c', script], { encoding: 'utf8' });
  return r.status ?? -1;
}
const outFile = (f: string) => (existsSync(join(out, f)) ? readFileSync(join(out, f), 'utf8').trim() : null);
const auth = () => ({ authorization: `Bearer ${token}` });
const policies = async () => ((await (await fetch(`${api}/v1/enforce/policies`, { headers: auth() })).json()) as { variant: string; denyEnforcedAs: string; policies: Array<{ name: string }> });
const postYaml = (text: string) => fetch(`${api}/v1/enforce/policies`, { method: 'POST', headers: { ...auth(), 'content-type': 'application/yaml' }, body: text });

beforeAll(async () => {
  ensureBuilt();
  await ensureImage();
  state = tempDir();
  out = tempDir();
  // The smallest policy, as written, for container A.
  writeFileSync(join(state, 'p.yaml'), `- policy: no-exec-from-tmp\n  containers: [${A}]\n  match:\n    exec:\n      pathPrefixes: [/tmp/]\n  action: kill\n`);
  cli = new CliProcess(['run', '--policy', join(state, 'p.yaml'), '-p', 'syscall', '--format', 'ndjson', '--status', 'never', '--state-dir', state, '--api-port', '0', '--no-models']);
  api = await cli.apiUrl();
  token = readToken(state);
});

afterAll(async () => {
  await cli?.stop();
  rmSync(out, { recursive: true, force: true });
});

describe('boxwatch run --policy', () => {
  it('kills the dropped binary before it runs and prints the enforcement as an alert', async () => {
    const from = cli.stdout.length;
    const status = runNow(A, `cp /bin/busybox /tmp/sh && /tmp/sh -c 'echo ran > /out/a'; echo $? > /out/a.status`);
    expect(status).toBe(0);
    expect(outFile('a')).toBeNull();
    expect(outFile('a.status')).toBe('137');
    const line = await cli.waitFor('stdout', (l: Line) => l.json?.type === 'alert' && l.json.rule === 'enforce:no-exec-from-tmp', 10_000, from);
    const alert = line.json as { priority: string; message: string; container: { name: string }; tags: string[]; evidence: Array<{ type: string; path: string; enforced_as: string }> };
    expect(alert.container.name).toBe(A);
    expect(alert.priority).toBe('critical');
    expect(alert.message).toContain('exec of /tmp/sh');
    expect(alert.evidence[0]).toMatchObject({ type: 'enforce.exec', path: '/tmp/sh', enforced_as: 'kill' });
  });

  it('lists, adds and removes policies through the API; a bad one is refused with its line and the others stay', async () => {
    expect(await policies()).toMatchObject({ variant: 'syscall-kill', denyEnforcedAs: 'kill', policies: [{ name: 'no-exec-from-tmp' }] });
    expect((await fetch(`${api}/v1/enforce/policies`)).status).toBe(401);

    const bad = await postYaml(`- policy: typo\n  containers: [${U}]\n  match:\n    syscalls: [mounty]\n  action: kill\n`);
    expect(bad.status).toBe(400);
    const body = (await bad.json()) as { field: string; line: number; message: string };
    expect(body).toMatchObject({ field: 'match.syscalls.0 (policy typo)', line: 4 });
    expect(body.message).toMatch(/^request:4: match\.syscalls\.0 \(policy typo\): unknown syscall/);
    expect((await postYaml(`- policy: no-exec-from-tmp\n  containers: all\n  match: { syscalls: [bpf] }\n  action: audit\n`)).status).toBe(409);
    expect((await policies()).policies.map((p) => p.name)).toEqual(['no-exec-from-tmp']);

    const added = await postYaml(`- policy: no-unshare\n  containers: [${U}]\n  match: { syscalls: [unshare] }\n  action: kill\n`);
    expect(added.status).toBe(201);
    expect((await policies()).policies.map((p) => p.name)).toEqual(['no-exec-from-tmp', 'no-unshare']);
    runNow(U, `unshare -m true; echo $? > /out/u1`, ['--cap-add', 'SYS_ADMIN']);
    expect(outFile('u1')).toBe('137');

    const del = await fetch(`${api}/v1/enforce/policies/no-unshare`, { method: 'DELETE', headers: auth() });
    expect(del.status).toBe(200);
    expect((await fetch(`${api}/v1/enforce/policies/no-unshare`, { method: 'DELETE', headers: auth() })).status).toBe(404);
    // The same container name again: no policy selects it any more.
    runNow(U, `unshare -m true; echo $? > /out/u2`, ['--cap-add', 'SYS_ADMIN']);
    expect(outFile('u2')).toBe('0');
  });
});

describe('policy files at start', () => {
  it('a bad policy file stops run and agent with file:line: field', () => {
    const dir = tempDir();
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, `- policy: x\n  containers: [web-1]\n  match:\n    exec:\n      pathPrefixes: [tmp/]\n  action: kill\n`);
    for (const args of [['run', '--policy', file, '--no-api'], ['agent', '--policy', file, '--no-api', '-o', 'none']]) {
      const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000 });
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(`${file}:5: match.exec.pathPrefixes.0 (policy x): must be an absolute path prefix`);
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('agent --policy runs the policies and lists them in the API', async () => {
    const s = tempDir();
    const agent = new CliProcess(['agent', '--policy', join(state, 'p.yaml'), '-p', 'syscall', '-o', 'none', '--state-dir', s, '--api-port', '0']);
    try {
      const url = await agent.apiUrl();
      const r = await fetch(`${url}/v1/enforce/policies`, { headers: { authorization: `Bearer ${readToken(s)}` } });
      expect(((await r.json()) as { policies: Array<{ name: string }> }).policies.map((p) => p.name)).toEqual(['no-exec-from-tmp']);
    } finally {
      await agent.stop();
      rmSync(s, { recursive: true, force: true });
    }
  });
});

describe('boxwatch doctor', () => {
  it('states the enforcement variant and that deny is enforced as kill without BPF LSM', () => {
    const json = spawnSync(process.execPath, [CLI, 'doctor', '--json'], { encoding: 'utf8' });
    expect(json.status).toBe(0);
    const report = JSON.parse(json.stdout) as { features: { lsm: { status: string } }; enforcement: { variant: string; denyEnforcedAs: string } };
    // This machine has no BPF LSM (DESIGN.md §4); the lsm-deny choice itself is the unit test's.
    expect(report.features.lsm.status).toBe('unsupported');
    expect(report.enforcement).toMatchObject({ variant: 'syscall-kill', denyEnforcedAs: 'kill' });
    const text = spawnSync(process.execPath, [CLI, 'doctor'], { encoding: 'utf8' }).stdout;
    expect(text).toMatch(/^enforcement: variant syscall-kill: deny policies are enforced as kill at syscall entry, the syscall completes first \(lsm-deny needs lsm/m);
  });
});
