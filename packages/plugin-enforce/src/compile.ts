/**
 * Policies → the contents of the kernel maps (bpf/enforce.h). Pure: the plugin writes the result.
 * Every value is a mask of policy slots; a prefix entry holds every policy with a prefix of it
 * (an LPM lookup returns only the longest match).
 */
import { isIPv4 } from 'node:net';
import { syscallNumbers, type Policy } from './policy.js';

export const MAX_POLICIES = 64;

export interface SlottedPolicy {
  slot: number;
  /** Unique per loaded policy (slots are reused; events carry the id). */
  id: number;
  policy: Policy;
}

export interface Compiled {
  policies: Map<number, { id: number; action: number; thread: number; dry_run: number }>;
  masks: { exec_prefix: bigint; exec_written: bigint; open_write: bigint; connect: bigint; host: bigint; deny: bigint };
  syscalls: Map<number, bigint>;
  execPrefixes: Map<string, bigint>;
  writePrefixes: Map<string, bigint>;
  /** key: `${hex addr16}/${port}` (see connectKey) */
  connect: Map<string, { addr: Buffer; port: number; mask: bigint }>;
  hostComms: Map<string, bigint>;
}

export const ACTION = { audit: 0, kill: 1, deny: 2 } as const;

const bit = (slot: number) => 1n << BigInt(slot);

/** 16-byte address, IPv4 v4-mapped; all zero for "any address". */
export function addressBytes(address: string | undefined): Buffer {
  const b = Buffer.alloc(16);
  if (address === undefined) return b;
  if (isIPv4(address)) {
    b[10] = 0xff;
    b[11] = 0xff;
    address.split('.').forEach((o, i) => (b[12 + i] = Number(o)));
    return b;
  }
  // Expand '::' and a trailing dotted quad (::ffff:1.2.3.4).
  let s = address;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4) {
    const o = v4[1]!.split('.').map(Number);
    s = s.slice(0, -v4[1]!.length) + `${((o[0]! << 8) | o[1]!).toString(16)}:${((o[2]! << 8) | o[3]!).toString(16)}`;
  }
  const [head, tail] = s.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  groups.forEach((g, i) => b.writeUInt16BE(parseInt(g, 16), i * 2));
  return b;
}

function foldPrefixes(entries: Array<[string, number]>): Map<string, bigint> {
  const own = new Map<string, bigint>();
  for (const [prefix, slot] of entries) own.set(prefix, (own.get(prefix) ?? 0n) | bit(slot));
  const out = new Map<string, bigint>();
  for (const p of own.keys()) {
    let m = 0n;
    for (const [q, qm] of own) if (p.startsWith(q)) m |= qm;
    out.set(p, m);
  }
  return out;
}

export function compile(slotted: readonly SlottedPolicy[]): Compiled {
  const c: Compiled = {
    policies: new Map(),
    masks: { exec_prefix: 0n, exec_written: 0n, open_write: 0n, connect: 0n, host: 0n, deny: 0n },
    syscalls: new Map(),
    execPrefixes: new Map(),
    writePrefixes: new Map(),
    connect: new Map(),
    hostComms: new Map(),
  };
  const exec: Array<[string, number]> = [];
  const write: Array<[string, number]> = [];
  for (const { slot, id, policy: p } of slotted) {
    const b = bit(slot);
    c.policies.set(slot, { id, action: ACTION[p.action], thread: p.kill === 'thread' ? 1 : 0, dry_run: p.dryRun ? 1 : 0 });
    if (p.exec?.pathPrefixes.length) c.masks.exec_prefix |= b;
    if (p.exec?.writtenFiles) c.masks.exec_written |= b;
    if (p.openWritePrefixes.length) c.masks.open_write |= b;
    if (p.connect.length) c.masks.connect |= b;
    if (p.host) c.masks.host |= b;
    if (p.action === 'deny') c.masks.deny |= b;
    for (const nr of syscallNumbers(p)) c.syscalls.set(nr, (c.syscalls.get(nr) ?? 0n) | b);
    for (const x of p.exec?.pathPrefixes ?? []) exec.push([x, slot]);
    for (const x of p.openWritePrefixes) write.push([x, slot]);
    for (const r of p.connect) {
      const addr = addressBytes(r.address);
      const port = r.port ?? 0;
      const key = `${addr.toString('hex')}/${port}`;
      const prev = c.connect.get(key);
      c.connect.set(key, { addr, port, mask: (prev?.mask ?? 0n) | b });
    }
    for (const comm of p.host ? p.comms : []) c.hostComms.set(comm, (c.hostComms.get(comm) ?? 0n) | b);
  }
  c.execPrefixes = foldPrefixes(exec);
  c.writePrefixes = foldPrefixes(write);
  return c;
}
