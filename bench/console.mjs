#!/usr/bin/env node
// Web console cost (issue 21), as root from the repo root after `npm run build`:
//   node bench/console.mjs [--containers=100] [--rounds=5] [--window=15]
// One `boxwatch run` watches N busy busybox containers. In interleaved rounds (order rotating) the
// agent's CPU is measured over a window with no console connected, and with one Chromium page signed
// in on the Containers view (its streams open). Chromium's own CPU is not counted: the target is the
// agent's. Also measured: first paint of the console page, and sign-in to all N container rows drawn.
// Container names start with bwconsole- (not bwbench-: the suite's cleanup removes those).
// Prints a JSON summary and a markdown row; writes bench/results/console.json.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { chromium } from 'playwright-core';
import { cpuNs, docker, IMAGE, removeContainers, sleep, summary, loadavg } from './lib/util.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const arg = (k, d) => Number(process.argv.find((a) => a.startsWith(`--${k}=`))?.slice(k.length + 3) ?? d);
const N = arg('containers', 100);
const ROUNDS = Math.max(3, arg('rounds', 5));
const WINDOW_S = arg('window', 15);
const log = (m) => process.stderr.write(`[console-bench] ${m}\n`);

const names = [];
let agent;
let browser;
try {
  log(`starting ${N} containers`);
  for (let i = 0; i < N; i++) {
    const name = `bwconsole-${randomBytes(3).toString('hex')}`;
    names.push(name);
    docker('run', '-d', '--network', 'none', '--name', name, IMAGE, 'sh', '-c', 'while true; do cat /etc/hostname > /dev/null; sleep 1; done');
  }
  const state = mkdtempSync(path.join(tmpdir(), 'bwconsole-'));
  const child = spawn(process.execPath, [path.join(root, 'packages/cli/dist/cli.js'), 'run', '--format', 'ndjson', '--status', 'never', '--state-dir', state, '--api-port', '0'], { stdio: ['ignore', 'ignore', 'pipe'] });
  agent = { pid: child.pid, stop: () => new Promise((r) => (child.exitCode !== null ? r() : (child.once('exit', r), child.kill('SIGTERM')))) };
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const deadline = Date.now() + 180_000;
  let api = null;
  while (!(api = /"url":"([^"]+)","msg":"web console"/.exec(stderr)?.[1] ?? null)) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`boxwatch run did not serve the console: ${stderr.slice(-500)}`);
    await sleep(100);
  }
  const token = readFileSync(path.join(state, 'api-token'), 'utf8').trim();
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
  // A fresh context per opening: an empty sessionStorage, so each opening signs in through the form.
  let context = null;

  const open = async () => {
    context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    const page = await context.newPage();
    const t0 = Date.now();
    await page.goto(`${api}#containers`);
    const fcp = await page.evaluate(() => new Promise((r) => new PerformanceObserver((l) => r(l.getEntries().find((e) => e.name === 'first-contentful-paint')?.startTime ?? null)).observe({ type: 'paint', buffered: true })));
    await page.fill('input[name=token]', token);
    const t1 = Date.now();
    await page.click('button[type=submit]');
    await page.waitForFunction((n) => document.querySelectorAll('[data-test=container-row]').length >= n, N, { timeout: 60_000 });
    return { firstPaintMs: fcp, signInToRowsMs: Date.now() - t1, gotoMs: t1 - t0 };
  };
  const close = async () => {
    await context?.close();
    context = null;
  };

  const cpuOver = async () => {
    await sleep(2000);
    const a = cpuNs(agent.pid).ns;
    const t = process.hrtime.bigint();
    await sleep(WINDOW_S * 1000);
    return ((cpuNs(agent.pid).ns - a) / Number(process.hrtime.bigint() - t)) * 100;
  };
  // Let the agent settle (container discovery, first resource pass) before measuring.
  await sleep(10_000);
  const cpu = { without: [], with: [] };
  const paints = [];
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 ? ['with', 'without'] : ['without', 'with'];
    for (const cfg of order) {
      if (cfg === 'with') paints.push(await open());
      else await close();
      cpu[cfg].push(await cpuOver());
      log(`round ${round + 1} ${cfg}: agent CPU ${cpu[cfg].at(-1).toFixed(2)} %`);
    }
  }
  const w = summary(cpu.with);
  const wo = summary(cpu.without);
  const result = {
    containers: N,
    rounds: ROUNDS,
    windowS: WINDOW_S,
    loadavg: loadavg(),
    agentCpuPercent: { without: wo, with: w },
    ratioMedian: w.median / wo.median,
    firstPaintMs: summary(paints.map((p) => p.firstPaintMs)),
    signInToRowsMs: summary(paints.map((p) => p.signInToRowsMs)),
  };
  mkdirSync(path.join(root, 'bench/results'), { recursive: true });
  writeFileSync(path.join(root, 'bench/results/console.json'), JSON.stringify(result, null, 2));
  console.log(JSON.stringify(result, null, 2));
  console.log(
    `| console open, ${N} containers | agent CPU ${w.median.toFixed(2)} % vs ${wo.median.toFixed(2)} % without (median of ${ROUNDS}; ${result.ratioMedian.toFixed(2)}×) | first paint ${result.firstPaintMs.median?.toFixed(0)} ms, sign-in to ${N} rows ${result.signInToRowsMs.median} ms |`,
  );
} finally {
  await browser?.close();
  await agent?.stop();
  removeContainers(names);
}
