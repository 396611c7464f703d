/** doctor (issue 2's CLI test) and rules lint, as the built command. */
import { describe, expect, it, beforeAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, CliProcess, ROOT, ensureBuilt, tempDir } from '../harness.js';

const cli = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { cwd: ROOT, encoding: 'utf8' });

beforeAll(() => ensureBuilt());

describe('boxwatch doctor', () => {
  it('reports kprobes unavailable and tp_btf available on this machine', () => {
    const r = cli('doctor', '--json');
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout) as { features: Record<string, { status: string }>; plugins: Array<{ name: string; variant: string }> };
    expect(report.features.kprobe!.status).toBe('unsupported');
    expect(report.features.tp_btf!.status).toBe('supported');
    expect(report.plugins.find((p) => p.name === 'fileopen')!.variant).toBe('tp_btf');
    const text = cli('doctor');
    expect(text.stdout).toMatch(/no\s+kprobe/);
    expect(text.stdout).toMatch(/yes tp_btf/);
  });

  it('prints the libbpf embedded in the addon (1.5 from the pinned crate, not the system 1.1)', () => {
    const r = cli('doctor', '--json');
    expect((JSON.parse(r.stdout) as { libbpf: string }).libbpf).toBe('1.5');
    expect(cli('doctor').stdout).toMatch(/libbpf 1\.5 \(embedded in the addon\)/);
  });
});

describe('boxwatch rules lint', () => {
  it('passes the default rules and a good file', () => {
    const dir = tempDir();
    const good = join(dir, 'good.yaml');
    writeFileSync(good, `- rule: Curl in container\n  desc: curl ran\n  condition: evt.type == 'process.exec' && proc.name == 'curl'\n  output: "curl {{proc.cmdline}}"\n  priority: NOTICE\n`);
    const r = cli('rules', 'lint', good);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('1 rule(s) compiled, 0 problem(s)');
  });

  it('exits non-zero with file:line for each problem', () => {
    const dir = tempDir();
    const bad = join(dir, 'bad.yaml');
    writeFileSync(
      bad,
      [
        '- rule: Bad field',
        '  desc: x',
        "  condition: evt.type == 'file.open' && evt.nosuchfield == 1",
        '  output: "x"',
        '  priority: WARNING',
        '- rule: Bad priority',
        '  desc: y',
        "  condition: evt.type == 'process.exec'",
        '  output: "y"',
        '  priority: LOUD',
        '',
      ].join('\n'),
    );
    const r = cli('rules', 'lint', bad);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`${bad}:3:`);
    expect(r.stderr).toContain(`${bad}:10:`);
    expect(r.stdout).toContain('2 problem(s)');
  });

  it('with --with-default, a file may use the default lists and macros', () => {
    const dir = tempDir();
    const f = join(dir, 'uses-default.yaml');
    writeFileSync(f, `- rule: Shell again\n  desc: x\n  condition: spawned_process && proc.name in shell_binaries\n  output: "sh"\n  priority: NOTICE\n`);
    expect(cli('rules', 'lint', f).status).toBe(1);
    const r = cli('rules', 'lint', '--with-default', f);
    expect(r.status, r.stderr).toBe(0);
  });
});

describe('a plugin that cannot start', () => {
  it('is logged with its reason and the agent runs the others', async () => {
    const dir = tempDir();
    const file = join(dir, 'boxwatch.yaml');
    // fileopen forced onto its kretprobe variant, which this kernel cannot attach.
    writeFileSync(file, `stateDir: ${dir}\noutput: ndjson\ndetector: {models: false}\napi: {port: 0}\nplugins: [syscall, fileopen]\npluginOptions:\n  fileopen:\n    variant: kretprobe\n`);
    const p = new CliProcess(['agent', '--config', file]);
    try {
      const api = await p.apiUrl();
      const failed = p.stderr.find((l) => l.json?.plugin === 'fileopen' && l.json.state === 'failed');
      expect(String(failed?.json?.err)).toContain('kprobe');
      const health = (await (await fetch(`${api}/healthz`)).json()) as { plugins: Record<string, string> };
      expect(health.plugins).toEqual({ syscall: 'running', fileopen: 'failed' });
    } finally {
      expect((await p.stop()).code).toBe(0);
    }
  });
});
