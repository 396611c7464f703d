/**
 * Behaviours of Falco's stable rules (issue 20; docs/rules.md maps them), done the way real tools do
 * them in real containers, through the kernel plugins to the default rules. Each test also runs a
 * near miss — the ordinary version of the same activity — that must raise none of the rule's alerts.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Containers, alertsIn, dockerExec, ensureImage, startPipeline, waitForAlert, waitForEvent, type Pipeline } from './harness.js';

let p: Pipeline;
const boxes = new Containers();

beforeAll(async () => {
  await ensureImage();
  p = await startPipeline({ models: false });
});

afterAll(async () => {
  await boxes.removeAll();
  await p?.close();
});

/** Run a marker exec in `name` and wait until the detector has seen it: everything before it went through. */
async function settle(name: string): Promise<void> {
  const marker = `bw-marker-${Math.random().toString(36).slice(2, 8)}`;
  await dockerExec(name, 'echo', marker);
  await waitForEvent(p, `marker in ${name}`, (e) => e.type === 'process.exec' && e.container?.name === name && (e.argv as string[]).includes(marker));
  await new Promise((r) => setTimeout(r, 300)); // other plugins' ring buffers drain every 10 ms
}

const fired = (name: string, rule: string) => alertsIn(p, name).filter((a) => a.rule === rule);

describe('Falco stable-rule behaviours', () => {
  test('symlink through a traversal path and hard link onto /etc/shadow', async () => {
    const rule = 'Link over sensitive file';
    const box = await boxes.start('link');
    const quiet = await boxes.start('link-nm');
    expect(await dockerExec(box, 'ln', '-s', '/etc/../etc//shadow', '/tmp/s')).toBe(0);
    const sym = await waitForAlert(p, rule, box);
    expect(sym.message).toContain('syscall.symlink');
    await dockerExec(box, 'ln', '/etc/shadow', '/tmp/h');
    await waitForAlert(p, rule, box, (a) => a.message.includes('syscall.link'));
    // Near miss: links to ordinary files.
    expect(await dockerExec(quiet, 'ln', '-s', '/etc/passwd', '/tmp/p')).toBe(0);
    expect(await dockerExec(quiet, 'ln', '/etc/group', '/tmp/g')).toBe(0);
    await settle(quiet);
    expect(fired(quiet, rule)).toEqual([]);
  });

  test('shell history emptied with `>` and removed with rm, a log truncated', async () => {
    const rule = 'Log or shell history cleared';
    const box = await boxes.start('logclr');
    const quiet = await boxes.start('logclr-nm');
    expect(await dockerExec(box, 'sh', '-c', 'echo ls >> /root/.ash_history && : > /root/.ash_history')).toBe(0);
    await waitForAlert(p, rule, box, (a) => a.message.includes('file.open'));
    expect(await dockerExec(box, 'sh', '-c', 'cd /root && rm .ash_history')).toBe(0);
    await waitForAlert(p, rule, box, (a) => a.message.includes('syscall.unlink'));
    expect(await dockerExec(box, 'sh', '-c', 'echo x >> /var/log/app.log && truncate -s 0 /var/log/app.log')).toBe(0);
    await waitForAlert(p, rule, box, (a) => a.message.includes('syscall.truncate'));
    // Near miss: appending to a log and to the history, and rotating a log by rename.
    expect(await dockerExec(quiet, 'sh', '-c', 'echo x >> /var/log/app.log && echo ls >> /root/.ash_history && mv /var/log/app.log /var/log/app.log.1')).toBe(0);
    await settle(quiet);
    expect(fired(quiet, rule)).toEqual([]);
  });

  test('shred of a file', async () => {
    const rule = 'Bulk data removal tool run';
    const box = await boxes.start('shred');
    const quiet = await boxes.start('shred-nm');
    expect(await dockerExec(box, 'sh', '-c', 'echo secret > /tmp/f')).toBe(0);
    expect(await dockerExec(box, 'shred', '-u', '/tmp/f')).toBe(0);
    const a = await waitForAlert(p, rule, box);
    expect(a.message).toContain('shred -u /tmp/f');
    // Near miss: dd copying to a regular file, rm.
    expect(await dockerExec(quiet, 'sh', '-c', 'dd if=/dev/zero of=/tmp/z bs=1k count=1 && rm /tmp/z')).toBe(0);
    await settle(quiet);
    expect(fired(quiet, rule)).toEqual([]);
  });

  test('a packet socket (arping), while ping stays quiet', async () => {
    const rule = 'Packet or raw socket created';
    const box = await boxes.start('packet', ['--network', 'none']);
    const quiet = await boxes.start('packet-nm', ['--network', 'none']);
    await dockerExec(box, 'arping', '-c', '1', '-w', '1', '-I', 'lo', '127.0.0.1');
    const a = await waitForAlert(p, rule, box);
    expect(a.message).toContain('AF_PACKET');
    // Near miss: ping's ICMP socket.
    expect(await dockerExec(quiet, 'ping', '-c', '1', '127.0.0.1')).toBe(0);
    await settle(quiet);
    expect(fired(quiet, rule)).toEqual([]);
  });

  // -w 1: busybox nc gives up waiting for a connection after a second.
  test('nc -e listening with no connection ever made', async () => {
    const rule = 'Netcat or socat with exec option';
    const box = await boxes.start('ncexec', ['--network', 'none']);
    const quiet = await boxes.start('ncexec-nm', ['--network', 'none']);
    await dockerExec(box, 'nc', '-l', '-p', '9000', '-w', '1', '-e', '/bin/sh');
    const a = await waitForAlert(p, rule, box);
    expect(a.message).toContain('-e /bin/sh');
    // Near miss: a plain listener.
    await dockerExec(quiet, 'nc', '-l', '-p', '9000', '-w', '1');
    await settle(quiet);
    expect(fired(quiet, rule)).toEqual([]);
  });

  test('find for private keys and grep for passwords', async () => {
    const rule = 'Search for credentials';
    const box = await boxes.start('credsearch', ['--network', 'none']);
    const quiet = await boxes.start('credsearch-nm', ['--network', 'none']);
    await dockerExec(box, 'find', '/', '-name', 'id_rsa');
    await waitForAlert(p, rule, box, (a) => a.message.includes('find / -name id_rsa'));
    await dockerExec(box, 'grep', '-ri', 'password', '/etc');
    await waitForAlert(p, rule, box, (a) => a.message.includes('grep -ri password'));
    // Near miss: ordinary searches.
    await dockerExec(quiet, 'find', '/etc', '-name', '*.conf');
    await dockerExec(quiet, 'grep', 'root', '/etc/passwd');
    await settle(quiet);
    expect(fired(quiet, rule)).toEqual([]);
  });
});
