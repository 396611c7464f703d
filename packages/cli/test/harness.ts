/**
 * Test helpers: the real built CLI as a child process (stdout/stderr split into lines, waiting for a
 * line that matches), and real busybox containers named bwtest-cli-<random>.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Docker from 'dockerode';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const CLI = join(ROOT, 'packages/cli/dist/cli.js');
export const IMAGE = 'boxwatch-test/busybox:latest';
export const docker = new Docker();

/** Newest modification time of the files below `dir`. */
function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

/**
 * The integration tests run the built CLI: build everything when it is missing, and rebuild the CLI
 * when its sources are newer than dist/ (a stale build would test old code).
 */
export function ensureBuilt(): void {
  const args = !existsSync(CLI) ? ['run', 'build'] : newest(join(ROOT, 'packages/cli/src')) > statSync(CLI).mtimeMs ? ['run', 'build', '-w', 'packages/cli'] : null;
  if (!args) return;
  const r = spawnSync('npm', args, { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`npm ${args.join(' ')} failed`);
}

export async function ensureImage(): Promise<void> {
  try {
    await docker.getImage(IMAGE).inspect();
  } catch {
    const r = spawnSync('bash', ['scripts/test-image.sh'], { cwd: ROOT, stdio: 'inherit' });
    if (r.status !== 0) throw new Error('cannot build the test image');
  }
}

export const testName = (what: string) => `bwtest-cli-${what}-${randomBytes(3).toString('hex')}`;
export const tempDir = () => mkdtempSync(join(tmpdir(), 'bwtest-cli-'));

export interface Line {
  text: string;
  at: number;
  json?: Record<string, unknown>;
}

export class CliProcess {
  readonly child: ChildProcess;
  readonly stdout: Line[] = [];
  readonly stderr: Line[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private waiters: Array<() => void> = [];

  constructor(args: string[], env: Record<string, string> = {}) {
    this.child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    this.collect(this.child.stdout!, this.stdout);
    this.collect(this.child.stderr!, this.stderr);
    this.exited = new Promise((resolve) => this.child.on('exit', (code, signal) => resolve({ code, signal })));
  }

  private collect(stream: NodeJS.ReadableStream, into: Line[]): void {
    let buf = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      const at = Date.now();
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf('\n')) !== -1) {
        const text = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        let json: Record<string, unknown> | undefined;
        try {
          json = JSON.parse(text) as Record<string, unknown>;
        } catch {
          /* not JSON */
        }
        into.push({ text, at, json });
      }
      for (const w of this.waiters.splice(0)) w();
    });
  }

  /** Wait for a line on stdout or stderr that matches; fails with the process's stderr tail on timeout or exit. */
  async waitFor(where: 'stdout' | 'stderr', match: (l: Line) => boolean, timeoutMs = 60_000, from = 0): Promise<Line> {
    const deadline = Date.now() + timeoutMs;
    let exited = false;
    void this.exited.then(() => {
      exited = true;
      for (const w of this.waiters.splice(0)) w();
    });
    for (;;) {
      const lines = this[where];
      for (let i = from; i < lines.length; i++) if (match(lines[i]!)) return lines[i]!;
      if (exited || Date.now() > deadline) {
        throw new Error(`no matching ${where} line (${exited ? 'process exited' : 'timeout'}); stderr tail:\n${this.stderr.slice(-15).map((l) => l.text.slice(0, 300)).join('\n')}`);
      }
      await new Promise<void>((r) => {
        const t = setTimeout(r, 200);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  /** The control API address from the "control API listening" log line. */
  async apiUrl(timeoutMs = 120_000): Promise<string> {
    const l = await this.waitFor('stderr', (x) => x.json?.msg === 'control API listening', timeoutMs);
    return String(l.json!.listen);
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 30_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.exited;
    this.child.kill(signal);
    const t = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    const r = await this.exited;
    clearTimeout(t);
    return r;
  }
}

export function readToken(stateDir: string): string {
  return readFileSync(join(stateDir, 'api-token'), 'utf8').trim();
}

export async function runContainer(name: string, script: string): Promise<{ id: string; ip: string }> {
  const c = await docker.createContainer({ name, Image: IMAGE, Cmd: ['sh', '-c', script], HostConfig: { AutoRemove: false } });
  await c.start();
  const info = await c.inspect();
  return { id: info.Id, ip: info.NetworkSettings.IPAddress };
}

/** `docker exec` (with `tty`, the process gets a terminal, as an operator's `docker exec -it` shell). */
export async function execIn(idOrName: string, cmd: string[], options: { tty?: boolean } = {}): Promise<void> {
  const exec = await docker.getContainer(idOrName).exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true, Tty: options.tty === true });
  const stream = await exec.start({});
  await new Promise<void>((resolve) => {
    stream.on('end', resolve);
    stream.on('close', resolve);
    stream.resume();
  });
}

export async function removeContainers(names: readonly string[]): Promise<void> {
  for (const n of names) await docker.getContainer(n).remove({ force: true }).catch(() => {});
}

export async function until<T>(fn: () => T | Promise<T>, timeoutMs: number, what: string): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Delete the Kafka topics a test created under its own prefix (the broker is shared). */
export async function deleteTopics(prefix: string): Promise<void> {
  const { default: kafkajs } = await import('kafkajs');
  const admin = new kafkajs.Kafka({ brokers: ['127.0.0.1:9092'], logLevel: kafkajs.logLevel.NOTHING }).admin();
  try {
    await admin.connect();
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(`${prefix}.`));
    if (topics.length) await admin.deleteTopics({ topics });
  } catch {
    /* the broker may be gone already; nothing to clean then */
  } finally {
    await admin.disconnect().catch(() => {});
  }
}
