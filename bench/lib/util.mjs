// Helpers of the benchmark orchestrator: docker, workloads timed inside the container, consumer
// processes with a ready/final protocol, CPU and RSS from /proc, statistics.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';

export const IMAGE = 'boxwatch-test/busybox:latest';
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function sh(cmd, args, opts = {}) {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20, ...opts });
}

export const docker = (...args) => sh('docker', args).trim();

/** Start a bench container (`bwbench-<random>`), return its name, id and cgroup v2 id. */
export function startContainer(cmd = ['sleep', '3600'], extra = []) {
  const name = `bwbench-${randomBytes(4).toString('hex')}`;
  const id = docker('run', '-d', '--name', name, ...extra, IMAGE, ...cmd);
  return { name, id, cgroupId: cgroupIdOf(id) };
}

export function cgroupIdOf(id) {
  for (const dir of [`/sys/fs/cgroup/unified/docker/${id}`, `/sys/fs/cgroup/system.slice/docker-${id}.scope`, `/sys/fs/cgroup/docker/${id}`]) {
    if (existsSync(dir)) return String(statSync(dir).ino);
  }
  throw new Error(`no cgroup v2 directory for container ${id}`);
}

export function removeContainers(names) {
  for (let i = 0; i < names.length; i += 50) {
    try {
      sh('docker', ['rm', '-f', ...names.slice(i, i + 50)]);
    } catch {}
  }
}

/** Remove bench containers left by an interrupted run. */
export function cleanupStale() {
  const names = docker('ps', '-aq', '--filter', 'name=^bwbench-').split('\n').filter(Boolean);
  if (names.length) removeContainers(names);
}

/**
 * Run a shell snippet in a container between two adjtimex reads (µs wall clock taken inside the
 * container, so docker exec overhead is not in the figure). Returns seconds.
 */
export function timedExec(name, snippet) {
  const outp = sh('docker', ['exec', name, 'sh', '-c', `a=$(adjtimex); ${snippet}; b=$(adjtimex); echo $a; echo $b`]);
  const secs = [...outp.matchAll(/tv_sec:\s*(\d+)/g)].map((m) => Number(m[1]));
  const usecs = [...outp.matchAll(/tv_usec:\s*(\d+)/g)].map((m) => Number(m[1]));
  if (secs.length < 2 || usecs.length < 2) throw new Error(`cannot time workload: ${outp.slice(0, 200)}`);
  return secs[1] - secs[0] + (usecs[1] - usecs[0]) / 1e6;
}

/** Wait (synchronously: workloads are timed synchronously) until a TCP listener on `port` shows in the container's `netstat -ltn`, up to 5 s. */
export function waitListening(name, port) {
  const re = new RegExp(`:${port}\\b`);
  for (let i = 0; i < 100; i++) {
    if (re.test(sh('docker', ['exec', name, 'netstat', '-ltn']))) return;
    sh('sleep', ['0.05']);
  }
  throw new Error(`nothing listens on ${port} in ${name}`);
}

export const ddLoop = (n) => `dd if=/dev/zero of=/dev/null bs=1 count=${n} 2>/dev/null`;

/** Total CPU time of a process in ns: sum of its threads' schedstat run time (precise), and utime+stime ticks. */
export function cpuNs(pid) {
  let ns = 0;
  try {
    for (const t of readdirSync(`/proc/${pid}/task`)) {
      try {
        ns += Number(readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]);
      } catch {}
    }
  } catch {}
  let ticksNs = 0;
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    ticksNs = (Number(f[11]) + Number(f[12])) * 1e7; // CLK_TCK 100
  } catch {}
  return { ns, ticksNs };
}

export function rssKb(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    return { rss: Number(/VmRSS:\s+(\d+)/.exec(s)?.[1] ?? NaN), hwm: Number(/VmHWM:\s+(\d+)/.exec(s)?.[1] ?? NaN) };
  } catch {
    return { rss: NaN, hwm: NaN };
  }
}

/**
 * Start a consumer process and wait for its ready line ("ready" or {"ready":true,...}).
 * stop() sends SIGTERM (or `signal`) and resolves with the last JSON line it printed ({"final":..}
 * is unwrapped) plus its stderr tail.
 */
export async function startProcess(cmd, args, { readyPattern = /ready|Attaching/, timeoutMs = 60_000, signal = 'SIGTERM', env } = {}) {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: env ? { ...process.env, ...env } : process.env });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise((r) => child.once('exit', (code, sig) => r({ code, sig })));
  let ready = null;
  const end = Date.now() + timeoutMs;
  while (!ready) {
    const line = stdout.split('\n').find((l) => readyPattern.test(l)) ?? (readyPattern.test(stderr) ? 'ready' : null);
    if (line) {
      try {
        ready = JSON.parse(line);
      } catch {
        ready = { ready: true };
      }
      if (ready.error) throw new Error(ready.error);
      break;
    }
    if (child.exitCode !== null || Date.now() > end) {
      child.kill('SIGKILL');
      throw new Error(`${cmd} ${args.join(' ')} did not get ready: ${(stdout + stderr).trim().split('\n').slice(-4).join(' | ').slice(0, 400)}`);
    }
    await sleep(20);
  }
  return {
    pid: child.pid,
    ready,
    async stop(timeoutMs2 = 120_000) {
      child.kill(signal);
      const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs2);
      await exited;
      clearTimeout(t);
      const lines = stdout.trim().split('\n').reverse();
      for (const l of lines) {
        try {
          const j = JSON.parse(l);
          return j.final ?? j;
        } catch {}
      }
      return { raw: stdout.slice(-2000), stderr: stderr.slice(-1000) };
    },
    /** SIGUSR2 → the {"snapshot":{...}} line the consumer prints (counts so far; it keeps running). */
    async snapshot(timeoutMs = 5000) {
      const from = stdout.length;
      child.kill('SIGUSR2');
      const end = Date.now() + timeoutMs;
      for (;;) {
        const line = stdout.slice(from).split('\n').find((l) => l.includes('"snapshot"'));
        if (line) return JSON.parse(line).snapshot;
        if (Date.now() > end || child.exitCode !== null) throw new Error(`${cmd}: no snapshot line after SIGUSR2`);
        await sleep(10);
      }
    },
    output: () => stdout,
    kill: () => child.kill('SIGKILL'),
  };
}

export function summary(values) {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return { min: NaN, median: NaN, max: NaN, n: 0 };
  const mid = v.length >> 1;
  return { min: v[0], median: v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2, max: v[v.length - 1], n: v.length };
}

export function machine() {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const mem = Number(/MemTotal:\s+(\d+)/.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1] ?? 0);
  return {
    nproc: Number(sh('nproc', []).trim()),
    memoryGiB: Math.round((mem / 1024 / 1024) * 10) / 10,
    kernel: sh('uname', ['-r']).trim(),
    cpu: /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1]?.trim() ?? 'unknown',
    libbpf: (() => {
      try {
        return sh('sh', ['-c', "ls /usr/lib/*/libbpf.so.1.* 2>/dev/null | head -1 | sed 's/.*libbpf.so.//'"]).trim();
      } catch {
        return '';
      }
    })(),
    node: process.version,
  };
}

export const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
