/**
 * The console in a real headless Chromium (Debian's package, driven by playwright-core) against a
 * real `boxwatch run` with real containers: a wrong token is refused at the form, the right one
 * signs in, a `docker run --rm` that reads /etc/shadow at once shows up as an alert row with its
 * evidence, a new container appears in the Containers view, Health shows the plugins and kernel
 * features. Screenshots of each view go to .cache/console-screenshots/.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { CliProcess, ensureBuilt, ensureImage, IMAGE, readToken, removeContainers, ROOT, runContainer, tempDir, testName } from '../../../cli/test/harness.js';

const CHROMIUM = '/usr/bin/chromium';
const SHOTS = join(ROOT, '.cache/console-screenshots');
const names: string[] = [];
let cli: CliProcess;
let url: string;
let token: string;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: the browser tests need Debian's chromium package (bash scripts/setup.sh installs it)`);
  ensureBuilt();
  if (!existsSync(join(ROOT, 'packages/console/dist/index.html'))) {
    const r = spawnSync('npm', ['run', 'build', '-w', 'packages/console'], { cwd: ROOT, stdio: 'inherit' });
    if (r.status !== 0) throw new Error('npm run build -w packages/console failed');
  }
  await ensureImage();
  mkdirSync(SHOTS, { recursive: true });
  const state = tempDir();
  cli = new CliProcess(['run', '--format', 'ndjson', '--status', 'never', '--state-dir', state, '--api-port', '0']);
  await cli.apiUrl();
  url = String((await cli.waitFor('stderr', (l) => l.json?.msg === 'web console', 10_000)).json!.url);
  token = readToken(state);
  // The flags keep Chromium off the network (this machine has none; nothing may leave it anyway).
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
});

afterAll(async () => {
  await removeContainers(names);
  await browser?.close();
  await cli?.stop();
});

describe('web console in Chromium', () => {
  it('refuses a wrong token at the login form', async () => {
    await page.goto(url);
    await page.fill('input[name=token]', 'not-the-token-0123456789');
    await page.click('button[type=submit]');
    await expect.poll(() => page.textContent('[data-test=login-error]'), { timeout: 10_000 }).toContain('refused this token (401)');
    expect(await page.isVisible('[data-test=nav-alerts]')).toBe(false);
    expect(await page.evaluate(() => sessionStorage.getItem('boxwatch.token'))).toBeNull();
    await page.screenshot({ path: join(SHOTS, 'login.png') });
  });

  it('signs in with the token; the token stays out of the URL', async () => {
    await page.fill('input[name=token]', token);
    await page.click('button[type=submit]');
    await page.waitForSelector('[data-test=nav-alerts]', { timeout: 10_000 });
    // Both streams connected before anything happens: the live indicator says so.
    await expect.poll(() => page.textContent('[data-test=live]'), { timeout: 10_000 }).toContain('live');
    expect(page.url()).not.toContain(token);
  });

  it('shows the alert of a docker run --rm that reads /etc/shadow at once, with its evidence', async () => {
    const name = testName('console-shadow');
    names.push(name);
    const row = `[data-test=alert-row][data-container="${name}"][data-rule="Read sensitive file"]`;
    const startedAt = Date.now();
    const r = spawnSync('docker', ['run', '--rm', '--network', 'none', '--name', name, IMAGE, 'cat', '/etc/shadow'], { stdio: ['ignore', 'ignore', 'pipe'] });
    expect(r.status, r.stderr.toString()).toBe(0);
    await page.waitForSelector(row, { timeout: 10_000 });
    console.log(`[measured] console: alert row ${Date.now() - startedAt} ms after docker run was called`);
    await page.click(row);
    const evidence = await page.textContent('[data-test=evidence]');
    expect(evidence).toContain('/etc/shadow');
    expect(await page.textContent('[data-test=evidence-process]')).toContain('cat');
    expect(await page.textContent('[data-test=evidence-cmdline]')).toContain('cat /etc/shadow');
    await page.click('[data-test=ack]');
    expect(await page.textContent('[data-test=ack]')).toContain('acknowledged');
    await page.screenshot({ path: join(SHOTS, 'alerts.png') });
  });

  it('lists a new container in the Containers view as it starts', async () => {
    await page.click('[data-test=nav-containers]');
    const name = testName('console-list');
    names.push(name);
    const startedAt = Date.now();
    await runContainer(name, 'sleep 600');
    await page.waitForSelector(`[data-test=container-row][data-name="${name}"]`, { timeout: 10_000 });
    console.log(`[measured] console: container row ${Date.now() - startedAt} ms after the container was started`);
    expect(await page.textContent(`[data-test=container-row][data-name="${name}"]`)).toContain('running');
    await page.screenshot({ path: join(SHOTS, 'containers.png') });
  });

  it('shows plugins with their hook variant and the kernel features in Health', async () => {
    await page.click('[data-test=nav-health]');
    await page.waitForSelector('[data-test=plugins] tr[data-plugin=syscall]', { timeout: 10_000 });
    expect(await page.textContent('[data-test=plugins] tr[data-plugin=syscall]')).toContain('running');
    expect(await page.textContent('[data-test=plugins] tr[data-plugin=syscall]')).toContain('tp_btf');
    expect(await page.textContent('[data-test=features]')).toContain('ringbuf');
    expect(await page.textContent('[data-test=agent]')).toMatch(/RSS \d+\.\d MiB/);
    await page.screenshot({ path: join(SHOTS, 'health.png') });
  });
});
