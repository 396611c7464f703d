#!/usr/bin/env node
/**
 * boxwatch detection evaluation (issue 10).
 *
 *   npm run eval               full: 5 min learning + 5 min normal in detect mode, then the attacks
 *   npm run eval -- --quick    CI:   1 min learning + 45 s normal in detect mode (< 15 min in all)
 *   options: --render eval/out/<run>/results.json (report of a saved run), --restart (learn, save, restart in detect mode; default in full), --smoke (harness check, too short to score), --only a,b (attack scenarios), --strict (exit 2 on detection regressions), --out FILE (default EVALUATION.md), --keep (leave containers)
 *
 * What it does, as a user would: builds one image per workload role from boxwatch-test/busybox, runs
 * `boxwatch run --format ndjson --learn-minutes L` (agent + detector, models learned on the normal
 * phase of the same workloads, then detecting), starts the normal workloads, bans one container pair
 * through the control API, waits out the learning period, watches the normal workloads in detect mode,
 * then runs each attack inside its target workload (through the emulated-RCE channel, see
 * docs/evaluation.md) and records the attack step's start time. Alerts are read from the CLI's stdout.
 *
 * Exit code: 0 when the evaluation ran (whatever it detected), 1 on a harness failure; with --strict
 * (CI, scripts/test.sh) 2 when a scenario a default rule targets was not caught by one of its rules or
 * a normal workload raised a rule alert (report.mjs regressions(); model-only results are informational).
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync, cpSync, rmSync, chmodSync } from 'node:fs';
import { tmpdir, hostname, cpus, totalmem } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { analyse, regressions, renderMarkdown, summaryLine } from './report.mjs';

const EVAL = dirname(fileURLToPath(import.meta.url));
const ROOT = join(EVAL, '..');
const CLI = join(ROOT, 'packages/cli/dist/cli.js');
const BASE = 'boxwatch-test/busybox:latest';
const ATK_IP = '172.17.0.1'; // docker0: the "outside" attacker (a host-network container bound to this address only)

const args = process.argv.slice(2);
const flag = (n) => args.includes(n);
const opt = (n, d) => (args.includes(n) ? args[args.indexOf(n) + 1] : d);
const QUICK = flag('--quick');
// --restart: after learning, stop boxwatch (models saved) and start it again on the same state dir, so
// detection runs on the persisted models (default in the full eval; --no-restart turns it off).
const RESTART = flag('--restart') || (!QUICK && !flag('--smoke') && !flag('--no-restart'));
const MODE = flag('--smoke')
  ? { name: 'smoke', learnMin: 0.5, detectNormalS: 10, windowS: 10, gapS: 2 }
  : QUICK
  ? { name: 'quick', learnMin: 1, detectNormalS: 45, windowS: 20, gapS: 3 }
  : { name: 'full', learnMin: 5, detectNormalS: 300, windowS: 30, gapS: 5 };
const OUT = opt('--out', join(ROOT, 'EVALUATION.md'));
const ONLY = opt('--only', null)?.split(',');
const RUN = randomBytes(3).toString('hex');
const WORK = mkdtempSync(join(tmpdir(), 'bweval-'));
const RAW = join(EVAL, 'out', new Date().toISOString().replace(/[:.]/g, '-'));

const log = (...a) => process.stderr.write(`[eval ${new Date().toISOString().slice(11, 19)}] ${a.join(' ')}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function sh(cmd, argv, { input, allowFail = false } = {}) {
  const r = spawnSync(cmd, argv, { encoding: 'utf8', input, maxBuffer: 64 << 20 });
  if (r.status !== 0 && !allowFail) throw new Error(`${cmd} ${argv.join(' ')} failed (${r.status}): ${(r.stderr || r.stdout || '').slice(-800)}`);
  return (r.stdout || '').trim();
}
const docker = (...a) => sh('docker', a);

// ---------------------------------------------------------------- scenarios
function loadScenarios() {
  const dir = join(EVAL, 'scenarios');
  const all = readdirSync(dir).sort().map((name) => ({ name, dir: join(dir, name), ...JSON.parse(readFileSync(join(dir, name, 'scenario.json'), 'utf8')) }));
  const workloads = all.filter((s) => s.kind === 'normal');
  let attacks = all.filter((s) => s.kind === 'attack');
  for (const a of attacks) {
    a.script = readFileSync(join(a.dir, 'attack.sh'), 'utf8');
    a.alertsIn ??= [a.target];
    a.modelOnly ??= false;
  }
  // `"entrypoint": true`: the same attack also runs as the entrypoint of a new container of the
  // target's image (`docker run --rm … sh -c <attack>`), acting at once and exiting, with no warm-up.
  const entrypoint = attacks.filter((a) => a.entrypoint).map((a) => ({ ...a, name: `${a.name}@entrypoint`, fromEntrypoint: true, alertsIn: [] }));
  attacks = [...attacks, ...entrypoint];
  if (ONLY) attacks = attacks.filter((a) => ONLY.includes(a.name));
  return { workloads, attacks };
}

// ---------------------------------------------------------------- images
function buildTools() {
  const out = join(WORK, 'tools');
  mkdirSync(out, { recursive: true });
  const r = spawnSync('gcc', ['-static', '-O2', '-o', join(out, 'ptattach'), join(EVAL, 'tools/ptattach.c')], { encoding: 'utf8' });
  if (r.status !== 0) {
    log('gcc -static failed: the ptrace scenario will run without its tool', (r.stderr || '').slice(-300));
    return null;
  }
  return out;
}

function buildImage(tag, label, files, extra) {
  const ctx = join(WORK, 'ctx', tag.replace(/[/:]/g, '_'));
  mkdirSync(join(ctx, 'root'), { recursive: true });
  for (const [src, dst] of files) {
    const to = join(ctx, 'root', dst);
    mkdirSync(dirname(to), { recursive: true });
    cpSync(src, to, { recursive: true });
  }
  writeFileSync(join(ctx, 'Dockerfile'), `FROM ${BASE}\nCOPY root/ /\nLABEL bweval.role="${label}"\n${extra ?? ''}`);
  docker('build', '-q', '-t', tag, ctx);
  return tag;
}

function buildImages(workloads, toolsDir) {
  for (const w of workloads) {
    for (const r of w.roles) {
      const files = [];
      if (existsSync(join(w.dir, 'files'))) files.push([join(w.dir, 'files'), '.']);
      files.push([join(w.dir, r.script), `eval/${r.script}`]);
      if (toolsDir && w.name === 'build') files.push([join(toolsDir, 'ptattach'), 'usr/local/bin/ptattach']);
      r.image = buildImage(`bweval/${w.name}-${r.role}:latest`, `${w.name}.${r.role}`, files);
    }
  }
  buildImage('bweval/infra-dl:latest', 'infra.dl', [[join(EVAL, 'infra/payload.sh'), 'srv/payload.sh']]);
}

// ---------------------------------------------------------------- containers
const containers = []; // {key, name, id, ip, startedAt, channel, workload?, role?, infra?}

function startContainer({ key, image, cmd, env = {}, privileged = false, hostNet = false, infra = false, workload, role }) {
  const name = `bweval-${key.replace(/\./g, '-').replace('@', '-ep')}-${RUN}`;
  const channel = join(WORK, 'channel', key);
  mkdirSync(channel, { recursive: true });
  chmodSync(channel, 0o755);
  const argv = ['run', '-d', '--name', name, '-v', `${channel}:/run/bw:ro`];
  if (cmd[0] === 'sh' && cmd[1] === '-c') argv.splice(1, 0, '--rm'); // an attack entrypoint: gone when done
  // "privileged" as far as this VM allows (--privileged itself fails here: runc cannot apply all caps)
  if (privileged) argv.push('--cap-add', 'SYS_ADMIN', '--security-opt', 'systempaths=unconfined', '--security-opt', 'seccomp=unconfined', '--security-opt', 'apparmor=unconfined');
  if (hostNet) argv.push('--network', 'host');
  for (const [k, v] of Object.entries(env)) argv.push('-e', `${k}=${v}`);
  argv.push(image, ...cmd);
  const id = docker(...argv);
  // An attack entrypoint may have exited (and been removed) already.
  const ip = hostNet ? ATK_IP : sh('docker', ['inspect', '-f', '{{.NetworkSettings.IPAddress}}', id], { allowFail: true });
  const c = { key, name, id, ip, startedAt: Date.now(), channel, workload, role, infra, seq: 0, image, env, privileged };
  containers.push(c);
  return c;
}
const byKey = (k) => containers.find((c) => c.key === k);

function removeAll() {
  const ids = sh('docker', ['ps', '-aq', '--filter', `name=^bweval-.*-${RUN}$`], { allowFail: true }).split('\n').filter(Boolean);
  if (ids.length) sh('docker', ['rm', '-f', ...ids], { allowFail: true });
}

// ---------------------------------------------------------------- the CLI
class Cli {
  constructor(argv) {
    this.lines = [];
    this.errTail = [];
    this.plugins = {};
    this.child = spawn(process.execPath, [CLI, ...argv], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    this.exited = new Promise((r) => this.child.on('exit', (code, signal) => r({ code, signal })));
    this.read(this.child.stdout, (text, at) => {
      try {
        const json = JSON.parse(text);
        if (json?.type === 'alert') this.lines.push({ at, alert: json });
      } catch {
        /* not an alert line */
      }
    });
    this.read(this.child.stderr, (text) => {
      this.errTail.push(text);
      if (this.errTail.length > 200) this.errTail.shift();
      try {
        const j = JSON.parse(text);
        if (j.msg === 'control API listening') this.api = j.listen;
        if (j.msg === 'learned models loaded') this.resumed = j.images;
        if (j.msg === 'plugin running') this.plugins[j.plugin] = `running (${j.variant ?? 'default'})`;
        if (j.plugin && /not running|failed to start/.test(j.msg ?? '') && !this.plugins[j.plugin]?.startsWith('running')) this.plugins[j.plugin] = `NOT RUNNING: ${String(j.err?.message ?? j.err ?? j.state ?? j.msg).slice(0, 200)}`;
        if (j.level >= 50) log('boxwatch:', text.slice(0, 300));
      } catch {
        /* plain text */
      }
    });
  }
  read(stream, onLine) {
    let buf = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk) => {
      const at = Date.now();
      buf += chunk;
      let nl;
      while ((nl = buf.indexOf('\n')) !== -1) {
        onLine(buf.slice(0, nl), at);
        buf = buf.slice(nl + 1);
      }
    });
  }
  async waitApi(ms = 180_000) {
    const deadline = Date.now() + ms;
    let exited = false;
    void this.exited.then(() => (exited = true));
    while (!this.api) {
      if (exited || Date.now() > deadline) throw new Error(`boxwatch run did not start its API (${exited ? 'exited' : 'timeout'}):\n${this.errTail.slice(-15).join('\n')}`);
      await sleep(200);
    }
    return this.api;
  }
  async stop() {
    if (this.child.exitCode !== null) return this.exited;
    this.child.kill('SIGTERM');
    const t = setTimeout(() => this.child.kill('SIGKILL'), 30_000);
    const r = await this.exited;
    clearTimeout(t);
    return r;
  }
}

async function api(cli, token, method, path, body) {
  const r = await fetch(`${cli.api}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text.slice(0, 300)}`);
  return text ? JSON.parse(text) : null;
}

// ---------------------------------------------------------------- attacks
function attackFile(a) {
  const vars = [`ATK_IP=${ATK_IP}`, `DL_IP=${byKey('infra.dl').ip}`, `EXFIL_IP=${byKey('infra.exfil').ip}`];
  for (const c of containers) if (!c.infra) vars.push(`IP_${c.key.replace(/\./g, '_')}=${c.ip}`);
  return `# attack scenario ${a.name}\n${vars.join('; ')}\n${a.script}\n`;
}

/** Runs the attacks, overlapping those whose containers differ; returns one record per attack. */
async function runAttacks(attacks) {
  const busyUntil = new Map();
  let entrypointRuns = 0;
  const records = [];
  let lastStart = 0;
  const pending = [...attacks];
  while (pending.length) {
    const now = Date.now();
    const i = pending.findIndex((a) => [a.target, ...a.alertsIn].every((k) => (busyUntil.get(k) ?? 0) <= now));
    if (i === -1 || now - lastStart < MODE.gapS * 1000) {
      await sleep(250);
      continue;
    }
    const a = pending.splice(i, 1)[0];
    const target = byKey(a.target);
    if (!target) throw new Error(`${a.name}: no container ${a.target}`);
    if (a.fromEntrypoint) {
      // A new container of the target's image and privileges whose entrypoint is the attack.
      const key = `${a.target}@${++entrypointRuns}`;
      const startedAt = Date.now();
      const c = startContainer({ key, image: target.image, cmd: ['sh', '-c', attackFile(a)], env: target.env, privileged: target.privileged, workload: target.workload, role: `${target.role}@entrypoint` });
      lastStart = startedAt;
      const windowEnd = startedAt + MODE.windowS * 1000;
      busyUntil.set(key, windowEnd + 1000);
      records.push({ name: a.name, target: a.target, alertsIn: [c.key], expect: a.expect, modelOnly: a.modelOnly, description: `as the entrypoint: ${a.description}`, startedAt, windowEnd });
      log(`attack ${a.name} -> new container ${c.name}`);
      continue;
    }
    target.seq += 1;
    const file = join(target.channel, `${target.seq}.sh`);
    writeFileSync(`${file}.part`, attackFile(a));
    chmodSync(`${file}.part`, 0o644);
    const startedAt = Date.now();
    sh('mv', [`${file}.part`, file]);
    lastStart = startedAt;
    const windowEnd = startedAt + MODE.windowS * 1000;
    for (const k of [a.target, ...a.alertsIn]) busyUntil.set(k, windowEnd + 1000);
    records.push({ name: a.name, target: a.target, alertsIn: a.alertsIn, expect: a.expect, modelOnly: a.modelOnly, description: a.description, startedAt, windowEnd });
    log(`attack ${a.name} -> ${target.name}`);
  }
  const lastEnd = Math.max(...records.map((r) => r.windowEnd), Date.now());
  await sleep(Math.max(0, lastEnd - Date.now()));
  return records;
}

// ---------------------------------------------------------------- main
async function main() {
  const t0 = Date.now();
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`);
  sh('bash', [join(ROOT, 'scripts/test-image.sh')]);
  const { workloads, attacks } = loadScenarios();
  log(`mode ${MODE.name}: ${workloads.length} workloads, ${attacks.length} attacks; work dir ${WORK}`);
  const toolsDir = buildTools();
  buildImages(workloads, toolsDir);

  // The attacker's side: a download server and an exfiltration drop on the bridge, and "outside" listeners (pool :3333,
  // reverse-shell handler :4445) in a host-network container bound to docker0's address only.
  startContainer({ key: 'infra.dl', image: 'bweval/infra-dl:latest', cmd: ['httpd', '-f', '-p', '8000', '-h', '/srv'], infra: true });
  startContainer({ key: 'infra.exfil', image: 'bweval/infra-dl:latest', cmd: ['httpd', '-f', '-p', '8000', '-h', '/srv'], infra: true });
  startContainer({ key: 'infra.atk', image: BASE, hostNet: true, infra: true, cmd: ['sh', '-c', `httpd -p ${ATK_IP}:3333 -h /tmp; httpd -f -p ${ATK_IP}:4445 -h /tmp`] });

  const state = join(WORK, 'state');
  const cliArgs = ['run', '--format', 'ndjson', '--status', 'never', '--state-dir', state, '--api-port', '0', '--learn-minutes', String(MODE.learnMin)];
  let cli = new Cli(cliArgs);
  const allLines = [];
  const exits = [];
  const cliStartedAt = Date.now();
  let phases = {};
  let records = [];
  let stopped = null;
  try {
    await cli.waitApi();
    const token = readFileSync(join(state, 'api-token'), 'utf8').trim();
    log(`boxwatch run up at ${cli.api} (${((Date.now() - cliStartedAt) / 1000).toFixed(1)} s); plugins: ${JSON.stringify(cli.plugins)}`);
    phases.plugins = { ...cli.plugins };

    // Normal workloads: servers first (clients get their addresses).
    phases.normalStart = Date.now();
    for (const w of workloads) {
      for (const r of w.roles) {
        const env = {};
        for (const [k, v] of Object.entries(r.env ?? {})) env[k] = byKey(v)?.ip ?? v;
        startContainer({ key: `${w.name}.${r.role}`, image: r.image, cmd: [`/eval/${r.script}`], env, privileged: r.privileged === true, workload: w.name, role: r.role });
      }
    }
    const lastStart = Math.max(...containers.map((c) => c.startedAt));
    log(`${containers.filter((c) => !c.infra).length} workload containers running`);

    // Operator config: banned pairs the attacks need (before any traffic, so normal runs are judged too).
    const ban = async () => {
      for (const a of attacks.filter((x) => x.banned)) {
        const [x, y] = a.banned.map((k) => byKey(k));
        await api(cli, token, 'POST', '/v1/cnetwork/rules', { id: `bweval-${a.name}`, a: { container: x.name }, b: { container: y.name }, description: `eval ${a.name}` });
        log(`banned pair ${x.name} <-> ${y.name}`);
      }
    };
    await ban();

    // Learning (per image, from its first event), then the normal workloads in detect mode.
    phases.detectFrom = lastStart + MODE.learnMin * 60_000 + 5_000;
    log(`learning until ${new Date(phases.detectFrom).toISOString().slice(11, 19)}`);
    await sleep(phases.detectFrom - Date.now());
    if (RESTART) {
      // Learn -> save -> detect: SIGTERM saves the models; the new process loads them (resumed) and the
      // control-API banned pairs (not persisted) are added again. Events in between are not seen.
      phases.restartAt = Date.now();
      exits.push(await cli.stop());
      allLines.push(...cli.lines);
      cli = new Cli(cliArgs);
      await cli.waitApi();
      phases.restartedAt = Date.now();
      phases.resumed = cli.resumed;
      for (const [k, v] of Object.entries(cli.plugins)) if (!v.startsWith('running')) phases.plugins[k] = v;
      log(`boxwatch restarted in ${((phases.restartedAt - phases.restartAt) / 1000).toFixed(1)} s, models ${cli.resumed ? 'loaded' : 'NOT loaded'}`);
      await ban();
      phases.detectFrom = Date.now();
    }
    phases.attacksFrom = Date.now() + MODE.detectNormalS * 1000;
    log(`normal workloads in detect mode for ${MODE.detectNormalS} s`);
    await sleep(phases.attacksFrom - Date.now());

    records = await runAttacks(attacks);
    await sleep(6_000); // alert flush interval is 5 s
    phases.end = Date.now();
    // A workload that died would score as "no false alerts" and miss its attacks: say so.
    phases.dead = containers.filter((c) => sh('docker', ['inspect', '-f', '{{.State.Running}}', c.id], { allowFail: true }) !== 'true').map((c) => c.key);
    if (phases.dead.length) log(`containers not running at the end: ${phases.dead.join(', ')}`);
    try {
      phases.stats = await api(cli, token, 'GET', '/v1/stats');
    } catch (err) {
      log('stats:', err.message);
    }
  } finally {
    stopped = await cli.stop();
    allLines.push(...cli.lines);
    if (!flag('--keep')) removeAll();
  }

  mkdirSync(RAW, { recursive: true });
  writeFileSync(join(RAW, 'alerts.ndjson'), allLines.map((l) => JSON.stringify({ at: l.at, ...l.alert })).join('\n') + '\n');
  const meta = {
    mode: MODE,
    date: new Date().toISOString(),
    machine: { hostname: hostname(), kernel: sh('uname', ['-r']), cpus: cpus().length, cpuModel: cpus()[0]?.model, memGiB: +(totalmem() / 2 ** 30).toFixed(1), load: sh('cat', ['/proc/loadavg']) },
    commit: sh('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD'], { allowFail: true }),
    dirty: sh('git', ['-C', ROOT, 'status', '--porcelain', '--', 'packages'], { allowFail: true }).length > 0,
    cli: { exit: [...exits, stopped], restart: RESTART, argv: 'boxwatch run --format ndjson --status never --learn-minutes ' + MODE.learnMin },
    phases,
    durationS: Math.round((Date.now() - t0) / 1000),
  };
  const result = analyse({ lines: allLines, containers, records, phases, mode: MODE, workloads });
  writeFileSync(join(RAW, 'results.json'), JSON.stringify({ meta, result, containers, records }, null, 2));
  writeFileSync(OUT, renderMarkdown({ meta, result, workloads, attacks }));
  log(`wrote ${OUT} and ${RAW}`);
  rmSync(WORK, { recursive: true, force: true });
  process.stdout.write(`${summaryLine(result, meta)}\n`);
  const bad = regressions(result);
  for (const b of bad) process.stdout.write(`EVAL REGRESSION: ${b}\n`);
  if (flag('--strict') && bad.length > 0) process.exitCode = 2;
}

process.on('SIGINT', () => {
  removeAll();
  process.exit(130);
});

/** --render <results.json>: write the report of a saved run again (e.g. after editing eval/notes.md). */
async function render(file) {
  const saved = JSON.parse(readFileSync(file, 'utf8'));
  const { meta, containers: cs, records: rs } = saved;
  // Score again from the raw alerts when they are next to it (scoring may have changed since).
  const raw = join(dirname(file), 'alerts.ndjson');
  const result = existsSync(raw)
    ? analyse({
        lines: readFileSync(raw, 'utf8').split('\n').filter(Boolean).map((l) => {
          const { at, ...alert } = JSON.parse(l);
          return { at, alert };
        }),
        containers: cs,
        records: rs,
        phases: meta.phases,
      })
    : saved.result;
  writeFileSync(OUT, renderMarkdown({ meta, result }));
  rmSync(WORK, { recursive: true, force: true });
  log(`wrote ${OUT} from ${file}`);
  process.stdout.write(`${summaryLine(result, meta)}\n`);
}

(opt('--render', null) ? render(opt('--render')) : main()).catch((err) => {
  log('HARNESS FAILURE:', err.stack || err.message);
  if (!flag('--keep')) removeAll();
  rmSync(WORK, { recursive: true, force: true });
  process.stdout.write(`EVAL HARNESS FAILURE: ${err.message.split('\n')[0]}\n`);
  process.exit(1);
});
