/** Realistic event builders for detector tests (headers as the Collector produces them). */
import { createEvent, type ContainerInfo, type IEvent } from '@boxwatch/core';

export const WEB: ContainerInfo = { id: 'a1b2c3d4e5f6'.padEnd(64, '0'), name: 'web', image: 'nginx:1.25', imageId: 'sha256:' + '1'.repeat(64) };
export const DB: ContainerInfo = { id: 'f6e5d4c3b2a1'.padEnd(64, '0'), name: 'db', image: 'postgres:16', imageId: 'sha256:' + '2'.repeat(64) };

let clockMs = Date.parse('2025-11-28T10:00:00Z');

export function resetClock(ms = Date.parse('2025-11-28T10:00:00Z')): void {
  clockMs = ms;
}

export function advance(ms: number): void {
  clockMs += ms;
}

export interface Who {
  container?: ContainerInfo | null;
  pid?: number;
  tid?: number;
  comm?: string;
}

export function ev(type: string, fields: object, who: Who = {}): IEvent {
  clockMs += 1;
  const pid = who.pid ?? 4242;
  return createEvent(
    type,
    {
      time: new Date(clockMs),
      ts: BigInt(clockMs) * 1_000_000n,
      host: 'node-1',
      container: who.container === undefined ? WEB : who.container,
      cgroupId: who.container === null ? 1n : 7001n,
      pid,
      tid: who.tid ?? pid,
      comm: who.comm ?? 'sh',
    },
    fields,
  );
}

/** process.exec as the syscall plugin reports it (comm is the new program's name). */
export function exec(filename: string, argv: string[], who: Who & { ppid?: number; tty?: number } = {}): IEvent {
  const comm = (who.comm ?? filename.split('/').pop() ?? '').slice(0, 15);
  const { tty = 0, ...rest } = who;
  return ev('process.exec', { filename, argv, ppid: who.ppid ?? 1, uid: 0, ns_pid: 7, tty }, { ...rest, comm });
}

export function fork(parentPid: number, childPid: number, who: Who = {}): IEvent {
  return ev('process.fork', { child_pid: childPid, ppid: 1 }, { ...who, pid: parentPid });
}

const NOFLAGS = { read: false, write: false, create: false, trunc: false, append: false, excl: false, directory: false, cloexec: true, nofollow: false, tmpfile: false };

export function open(path: string, mode: 'r' | 'w' | 'c' | 'rw', who: Who = {}, ret = 3): IEvent {
  const flags = { ...NOFLAGS, read: mode === 'r' || mode === 'rw', write: mode !== 'r', create: mode === 'c', trunc: mode === 'w' };
  return ev('file.open', { path, fs: 'overlay', flags, raw_flags: 0, mode: 0o644, ret, truncated: false }, who);
}

export function connect(daddr: string, dport: number, who: Who = {}, peer: { id: string; name: string } | null = null): IEvent {
  return ev('net.connect', { proto: 'tcp', saddr: '172.17.0.2', sport: 40000 + (dport % 1000), daddr, dport, peer_container: peer }, who);
}
