/**
 * The examples are run as a user would (their own build scripts, then node / bash), briefly, against
 * the real kernel, containers and broker, so they do not rot.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { ROOT, deleteTopics, ensureBuilt, ensureImage, execIn, removeContainers, runContainer, testName, until } from '../harness.js';

const names: string[] = [];
const EX = join(ROOT, 'examples');

beforeAll(async () => {
  ensureBuilt();
  await ensureImage();
});
afterAll(async () => removeContainers(names));

function build(example: string): void {
  const r = spawnSync('bash', [join(EX, example, 'build.sh')], { cwd: ROOT, encoding: 'utf8' });
  expect(r.status, `${example} build:\n${r.stdout}\n${r.stderr}`).toBe(0);
}

/** Start a command, collect its stdout lines; returns the lines and a promise of its exit. */
function start(cmd: string, args: string[], env: Record<string, string> = {}) {
  const child = spawn(cmd, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const out: string[] = [];
  let err = '';
  let buf = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => {
    buf += c;
    const parts = buf.split('\n');
    buf = parts.pop()!;
    out.push(...parts);
  });
  child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { out, stderr: () => err, exited, child };
}

/** A container that keeps doing `action` (so the example sees it whenever it is ready) until removed. */
async function busyContainer(what: string, action: string): Promise<string> {
  const name = testName(what);
  names.push(name);
  await runContainer(name, `while true; do ${action}; sleep 0.5; done`);
  return name;
}

describe('examples', () => {
  it('custom-plugin: builds its own .bpf.o and decoder and reports mkdir in a container', async () => {
    build('custom-plugin');
    const p = start(process.execPath, [join(EX, 'custom-plugin/dist/main.js'), '8']);
    const name = await busyContainer('hello', 'mkdir -p /tmp/d$$; rmdir /tmp/d$$');
    await until(() => p.out.some((l) => l.includes('"hello.mkdir"') && l.includes(`"name":"${name}"`)), 30_000, `hello.mkdir from ${name}\n${p.stderr()}`);
    expect(await p.exited).toBe(0);
  });

  it('custom-sink: summarises events per container', async () => {
    build('custom-sink');
    const name = await busyContainer('sink', 'cat /etc/hostname > /dev/null');
    const p = start(process.execPath, [join(EX, 'custom-sink/dist/main.js'), '8', '1000']);
    await until(() => p.out.some((l) => l.includes('"summary"') && l.includes(`"${name}"`) && l.includes('file.open')), 30_000, `summary for ${name}\n${p.stderr()}`);
    expect(await p.exited).toBe(0);
  });

  it('library-use: typed events and in-process alerts', async () => {
    build('library-use');
    const name = await busyContainer('lib', 'echo x > /tmp/f; cat /etc/shadow > /dev/null');
    const p = start(process.execPath, [join(EX, 'library-use/dist/main.js'), '10']);
    await until(() => p.out.some((l) => l.includes('"kind":"write"') && l.includes(name) && l.includes('/tmp/f')), 30_000, `typed write event\n${p.stderr()}`);
    await until(() => p.out.some((l) => l.includes('"kind":"alert"') && l.includes('Read sensitive file') && l.includes(name)), 30_000, `alert\n${p.stderr()}`);
    expect(await p.exited).toBe(0);
  });

  it('kafka-two-process: one script runs agent and detector over the broker', async () => {
    expect(spawnSync('bash', ['scripts/kafka.sh', 'start'], { cwd: ROOT }).status).toBe(0);
    const prefix = `bwtest-cli-ex-${randomBytes(3).toString('hex')}`;
    const p = start('bash', [join(EX, 'kafka-two-process/run.sh'), '25'], { PREFIX: prefix, AGENT_API_PORT: '0', DETECT_API_PORT: '0' });
    const name = await busyContainer('kafka', 'cat /etc/shadow > /dev/null');
    await until(() => p.out.some((l) => l.includes('"rule":"Read sensitive file"') && l.includes(`"name":"${name}"`)), 40_000, `alert via Kafka\n${p.stderr().slice(-3000)}`);
    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(0);
    await deleteTopics(prefix);
  });
});
