/**
 * The console in a real headless Chromium (Debian's package, driven by playwright-core) against a
 * real `boxwatch run` with real containers: a wrong token is refused at the form, the right one
 * signs in, a `docker run --rm` that reads /etc/shadow at once shows up as an alert row with its
 * evidence, a new container appears in the Containers view, Health shows the plugins and kernel
 * features; in Network a bad banned pair gets its error at the field, a good one added in the page
 * bans the traffic between two containers (alert, flows matrix) and is removed again; in Rules an
 * uploaded rules file with a bad condition gets its line-numbered error and changes nothing, and
 * a rule's toggle switches it off and on in the agent (and shows the agent's refusal when it has one).
 * After the agent restarts, the page reconnects by itself and shows new alerts.
 * Screenshots of each view go to .cache/console-screenshots/.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { CliProcess, ensureBuilt, ensureImage, execIn, IMAGE, readToken, removeContainers, ROOT, runContainer, tempDir, testName, until } from '../../../cli/test/harness.js';

const CHROMIUM = '/usr/bin/chromium';
const SHOTS = join(ROOT, '.cache/console-screenshots');
const names: string[] = [];
let cli: CliProcess;
let url: string;
let token: string;
let browser: Browser;
let page: Page;
let state: string;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: the browser tests need Debian's chromium package (bash scripts/setup.sh installs it)`);
  ensureBuilt();
  if (!existsSync(join(ROOT, 'packages/console/dist/index.html'))) {
    const r = spawnSync('npm', ['run', 'build', '-w', 'packages/console'], { cwd: ROOT, stdio: 'inherit' });
    if (r.status !== 0) throw new Error('npm run build -w packages/console failed');
  }
  await ensureImage();
  mkdirSync(SHOTS, { recursive: true });
  state = tempDir();
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
    // Acknowledged in the agent: the API has it, and the stream brings it back to the page.
    await page.click('[data-test=ack]');
    await page.waitForSelector('[data-test=ack]:has-text("acknowledged")', { timeout: 10_000 });
    const id = await page.getAttribute(row, 'data-id');
    const retained = (await (await fetch(`${url}v1/alerts?container=${name}`, { headers: { authorization: `Bearer ${token}` } })).json()) as Array<{ id: string; acknowledged?: string }>;
    expect(retained.find((a) => a.id === id)?.acknowledged).toMatch(/^\d{4}-/);
    await page.screenshot({ path: join(SHOTS, 'alerts.png') });
  });

  it('lists a new container in the Containers view as it starts, with event rates, CPU and memory', async () => {
    await page.click('[data-test=nav-containers]');
    const name = testName('console-list');
    names.push(name);
    const startedAt = Date.now();
    // Busy on purpose: its file opens and processes show as event rates, plugin-resources' sample as memory.
    await runContainer(name, 'while true; do cat /etc/hostname > /dev/null; sleep 0.2; done');
    const row = `[data-test=container-row][data-name="${name}"]`;
    await page.waitForSelector(row, { timeout: 10_000 });
    console.log(`[measured] console: container row ${Date.now() - startedAt} ms after the container was started`);
    expect(await page.textContent(row)).toContain('running');
    await page.waitForSelector(`${row} [data-test=rates]:has-text("file")`, { timeout: 10_000 });
    // resource.usage comes one interval (5 s) after the container is first seen.
    await page.waitForSelector(`${row} [data-test=memory]:has-text("MiB")`, { timeout: 20_000 });
    expect(await page.textContent(`${row} [data-test=cpu]`)).toMatch(/\d %/);
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

  it('Rules: hit counts, and an uploaded rules file is linted with line numbers and changes nothing', async () => {
    const get = async () => (await (await fetch(`${url}v1/rules`, { headers: { authorization: `Bearer ${token}` } })).json()) as { rules: Array<{ name: string }> };
    const before = (await get()).rules.map((r) => r.name);
    await page.click('[data-test=nav-rules]');
    const shadowHits = await page.waitForSelector('[data-test=rules] tr[data-rule="Read sensitive file"] [data-test=hits]', { timeout: 10_000 });
    expect(Number(await shadowHits.textContent())).toBeGreaterThanOrEqual(1);

    const dir = tempDir();
    const bad = join(dir, 'bad-rules.yaml');
    // Line 3 holds the broken condition; a rule with the same name as a loaded one must not appear.
    writeFileSync(bad, '- rule: Console upload check\n  desc: broken on purpose\n  condition: evt.type == \n  output: x\n  priority: warning\n');
    await page.setInputFiles('[data-test=rules-file]', bad);
    await page.click('[data-test=lint]');
    const err = await page.waitForSelector('[data-test=lint-errors] li', { timeout: 10_000 });
    expect(await err.getAttribute('data-line')).toBe('3');
    expect(await err.textContent()).toMatch(/^line 3: upload\.yaml:3: condition \(rule Console upload check\)/);
    expect(await page.textContent('[data-test=lint-listing] .error')).toContain('condition: evt.type ==');
    await page.screenshot({ path: join(SHOTS, 'rules.png') });
    expect((await get()).rules.map((r) => r.name)).toEqual(before);

    await page.fill('[data-test=rules-text]', "- rule: Console upload ok\n  desc: fine\n  condition: evt.type == 'process.exec'\n  output: ok\n  priority: notice\n");
    await page.click('[data-test=lint]');
    expect(await (await page.waitForSelector('[data-test=lint-ok]', { timeout: 10_000 })).textContent()).toContain('Console upload ok');
    expect((await get()).rules.map((r) => r.name)).toEqual(before);
  });

  it('Rules: the toggle switches a rule off and on through the API, and shows a refusal as it is', async () => {
    const headers = { authorization: `Bearer ${token}` };
    const apiState = async () => ((await (await fetch(`${url}v1/rules`, { headers })).json()) as { rules: Array<{ name: string; enabled: boolean; setBy: string }> }).rules.find((r) => r.name === 'Read sensitive file');
    const row = '[data-test=rules] tr[data-rule="Read sensitive file"]';
    await page.click('[data-test=nav-rules]');
    await page.waitForSelector(`${row}[data-enabled=true]`, { timeout: 10_000 });
    expect(await apiState()).toMatchObject({ enabled: true, setBy: 'file' });

    // The agent cannot save the switch (a directory where its state file goes): the page shows
    // the agent's message and the rule stays on, in the page and in the agent.
    const stateFile = join(state, 'rules-disabled.json');
    mkdirSync(stateFile);
    await page.click(`${row} [data-test=toggle]`);
    const refusal = await page.waitForSelector(`${row} [data-test=toggle-error]`, { timeout: 10_000 });
    expect(await refusal.textContent()).toMatch(/cannot save .*rules-disabled\.json.*the rule was not switched/);
    expect(await page.getAttribute(row, 'data-enabled')).toBe('true');
    expect(await apiState()).toMatchObject({ enabled: true, setBy: 'file' });
    rmdirSync(stateFile);

    await page.click(`${row} [data-test=toggle]`);
    await page.waitForSelector(`${row}[data-enabled=false] [data-test=set-by]:has-text("by API")`, { timeout: 10_000 });
    expect(await page.isVisible(`${row} [data-test=toggle-error]`)).toBe(false);
    expect(await apiState()).toMatchObject({ enabled: false, setBy: 'api' });
    await page.screenshot({ path: join(SHOTS, 'rules-switched-off.png') });

    // On again (the restart test below expects the rule to alert).
    await page.click(`${row} [data-test=toggle]`);
    await page.waitForSelector(`${row}[data-enabled=true]`, { timeout: 10_000 });
    expect(await apiState()).toMatchObject({ enabled: true, setBy: 'file' });
  });

  it('Network: field errors, a banned pair added in the page bans real traffic, flows, removal', async () => {
    const a = testName('console-srv');
    const b = testName('console-cli');
    names.push(a, b);
    // busybox nc copies stdin to the socket; a FIFO held open is a stdin that never ends.
    const server = await runContainer(a, 'mkfifo /tmp/in; exec 3<>/tmp/in; nc -l -p 5000 <&3 > /dev/null');
    await runContainer(b, `while [ ! -e /tmp/go ]; do sleep 0.05; done; dd if=/dev/zero bs=4096 count=64 2>/dev/null | nc ${server.ip} 5000; sleep 600`);
    const api = url.replace(/\/$/, '');
    await until(async () => {
      const list = (await (await fetch(`${api}/v1/containers`, { headers: { authorization: `Bearer ${token}` } })).json()) as Array<{ name?: string; ips: string[] }>;
      return list.some((c) => c.name === a && c.ips.length > 0) && list.some((c) => c.name === b && c.ips.length > 0);
    }, 30_000, 'both containers known with addresses');

    await page.click('[data-test=nav-network]');
    await page.waitForSelector('[data-test=ban-form]');
    // Bad input: an unknown container and a malformed address, each shown at its field.
    await page.fill('[data-test=ban-form] input[name=a]', 'no-such-container-bwtest');
    await page.fill('[data-test=ban-form] input[name=b]', b);
    await page.click('[data-test=ban-form] button[type=submit]');
    expect(await (await page.waitForSelector('[data-test=error-a]', { timeout: 10_000 })).textContent()).toContain('no-such-container-bwtest');
    await page.fill('[data-test=ban-form] input[name=a]', a);
    await page.fill('[data-test=ban-form] input[name=b]', '10.0.0.300');
    await page.click('[data-test=ban-form] button[type=submit]');
    expect(await (await page.waitForSelector('[data-test=error-b]', { timeout: 10_000 })).textContent()).toContain('10.0.0.300');
    expect(await page.$$('[data-test=banned-row]')).toHaveLength(0);

    const id = `console-${b.slice(-6)}`;
    await page.fill('[data-test=ban-form] input[name=id]', id);
    await page.fill('[data-test=ban-form] input[name=b]', b);
    await page.click('[data-test=ban-form] button[type=submit]');
    await page.waitForSelector(`[data-test=banned-row][data-id="${id}"]`, { timeout: 10_000 });
    expect(await page.textContent(`[data-test=banned-row][data-id="${id}"]`)).toContain(server.ip);

    await execIn(b, ['touch', '/tmp/go']);
    // The client's socket closes after dd's EOF: its net.flow comes at once, not after the interval.
    await page.waitForSelector(`[data-flow="${b}>${a}"]:not(:empty)`, { timeout: 15_000 });
    expect(await page.textContent(`[data-flow="${b}>${a}"]`)).toMatch(/KiB|MiB/);
    await page.screenshot({ path: join(SHOTS, 'network.png') });

    await page.click(`[data-test="remove-${id}"]`);
    await page.waitForSelector(`[data-test=banned-row][data-id="${id}"]`, { state: 'detached', timeout: 10_000 });
    const left = (await (await fetch(`${api}/v1/cnetwork/rules`, { headers: { authorization: `Bearer ${token}` } })).json()) as Array<{ id: string }>;
    expect(left.map((r) => r.id)).not.toContain(id);

    await page.click('[data-test=nav-alerts]');
    await page.waitForSelector(`[data-test=alert-row][data-rule="Traffic between banned containers"]:is([data-container="${a}"], [data-container="${b}"])`, { timeout: 10_000 });
  });

  it('reconnects by itself after the agent restarts, and shows the next alert', async () => {
    const port = new URL(url).port;
    await cli.stop();
    await expect.poll(() => page.textContent('[data-test=live]'), { timeout: 10_000 }).toContain('reconnecting');
    // Same state directory (same token file) and port: what a restarted agent looks like.
    cli = new CliProcess(['run', '--format', 'ndjson', '--status', 'never', '--state-dir', state, '--api-port', port]);
    await cli.apiUrl();
    await expect.poll(() => page.textContent('[data-test=live]'), { timeout: 20_000 }).toContain('live');
    expect(await page.isVisible('[data-test=nav-alerts]')).toBe(true);

    const name = testName('console-again');
    names.push(name);
    const r = spawnSync('docker', ['run', '--rm', '--network', 'none', '--name', name, IMAGE, 'cat', '/etc/shadow'], { stdio: ['ignore', 'ignore', 'pipe'] });
    expect(r.status, r.stderr.toString()).toBe(0);
    await page.waitForSelector(`[data-test=alert-row][data-container="${name}"][data-rule="Read sensitive file"]`, { timeout: 10_000 });
  });
});
