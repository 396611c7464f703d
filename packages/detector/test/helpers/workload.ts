/**
 * A recorded-like normal run of an nginx container: per second, syscall counts with bounded jitter, two
 * worker threads' syscall sequences (request loop with three code paths), and every 5 s resource usage;
 * now and then the known helper binaries run, the log is written and the database is contacted.
 */
import type { IEvent } from '@boxwatch/core';
import { DB, WEB, advance, connect, ev, exec, open } from './events.js';

export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const RATES: Record<string, [number, number]> = {
  read: [0, 800], write: [1, 600], openat: [257, 200], close: [3, 400], fstat: [5, 150], epoll_wait: [232, 500], accept4: [288, 100], sendfile: [40, 90],
};

// The request loop: accept, read request, then one of three paths, then log and wait.
const PATHS = [
  [257, 5, 40, 3], // static file: openat fstat sendfile close
  [0, 0, 1], // proxied: read read write
  [1], // cached: write
];

export function normalSecond(r: () => number, second: number, out: IEvent[]): void {
  for (const [name, [id, rate]] of Object.entries(RATES)) {
    const count = Math.round(rate * (0.9 + 0.2 * r()));
    out.push(ev('syscall.count', { syscall: { id, name }, count, interval_ms: 1000 }, { pid: 0, tid: 0, comm: '' }));
  }
  for (const tid of [201, 202]) {
    const seq: number[] = [];
    for (let i = 0; i < 20; i++) seq.push(288, 0, ...PATHS[Math.floor(r() * 3)]!, 1, 232);
    out.push(ev('syscall.seq', { syscalls: seq }, { pid: 200, tid, comm: 'nginx' }));
  }
  if (second % 5 === 0) {
    out.push(ev('resource.usage', {
      cpu_percent: 1 + 2 * r(), cpu_throttled_ms: 0, memory_bytes: 50e6 + r() * 1e5, memory_limit_bytes: 512e6, oom_kills: 0, pids: 5,
      io_read_bytes: 0, io_write_bytes: 4096, net_rx_bytes: 1e4, net_tx_bytes: 5e4, interval_ms: 5000,
    }, { pid: 0, tid: 0, comm: '' }));
  }
  if (second % 7 === 0) out.push(exec('/usr/bin/logrotate', ['logrotate', '/etc/logrotate.conf'], { pid: 300 + (second % 50) }));
  if (second % 3 === 0) out.push(open('/var/log/nginx/access.log', 'w', { pid: 200, comm: 'nginx' }));
  if (second % 4 === 0) out.push(connect('172.17.0.3', 5432, { pid: 200, comm: 'nginx' }, { id: DB.id!, name: DB.name! }));
}

/** `seconds` of normal activity; the clock advances one second per step. */
export function normalRun(seed: number, seconds: number): IEvent[] {
  const r = rng(seed);
  const out: IEvent[] = [];
  for (let s = 0; s < seconds; s++) {
    normalSecond(r, s, out);
    advance(1000 - 40);
  }
  return out;
}

export { WEB };
