import { readCString, recordEvent, type DecodeContext, type TypedEvent } from '@boxwatch/core';
import { enforce_record as R } from './generated/layout.js';
import { SYSCALLS } from './syscalls.js';

/** Record type of struct enforce_record (EN_RECORD_ACTION). */
export const RECORD_ACTION = 1;

const KINDS = { 1: 'exec', 2: 'open', 3: 'syscall', 4: 'connect' } as const;
type Kind = (typeof KINDS)[keyof typeof KINDS];
const ACTIONS = ['audit', 'kill', 'deny'] as const;
/** EN_TAKEN_* */
const TAKEN = ['none', 'kill-process', 'kill-thread', 'deny', 'failed'] as const;

const SYSCALL_NAME = new Map<number, string>();
for (const [name, nrs] of Object.entries(SYSCALLS)) if (nrs.length === 1 && !SYSCALL_NAME.has(nrs[0]!)) SYSCALL_NAME.set(nrs[0]!, name);
SYSCALL_NAME.set(2, 'open').set(42, 'connect').set(85, 'creat').set(257, 'openat').set(437, 'openat2');

export interface EnforceFields {
  /** Name of the policy that acted (null if it was removed before the record was read). */
  policy: string | null;
  /** The action the policy asks for. */
  action: (typeof ACTIONS)[number];
  /**
   * What the kernel did: `kill` (SIGKILL sent), `deny` (refused with -EPERM by an LSM hook),
   * `none` (audit or dryRun), `failed` (the signal could not be sent: `error`). A deny policy on a
   * kernel without BPF LSM reports `kill` here: deny degraded to kill at syscall entry.
   */
  enforced_as: 'kill' | 'deny' | 'none' | 'failed';
  /** kill: the whole process or only the thread. */
  scope?: 'process' | 'thread';
  dryRun: boolean;
  /** The syscall entered (exec: null, the exec had completed). */
  syscall: string | null;
  /** exec: the path as passed to execve; open: the path argument. */
  path?: string;
  /** exec: why it matched. */
  reason?: Array<'prefix' | 'written'>;
  /** exec: inode and device of the exec'd file. */
  inode?: number;
  device?: number;
  /** open: flags as passed. */
  flags?: number;
  /** connect: destination. */
  address?: string;
  port?: number;
  /** helper error (negative errno) when enforced_as is failed. */
  error?: number;
}

export type EnforceEvent = TypedEvent<`enforce.${Kind}`, EnforceFields>;

export const ENFORCE_EVENT_TYPES = ['enforce.exec', 'enforce.open', 'enforce.syscall', 'enforce.connect'] as const;

export interface PolicyNames {
  /** Policy name of a policy id, and whether it was dryRun. */
  byId(id: number): { name: string; dryRun: boolean } | null;
}

function address(view: DataView, off: number): string {
  const b = new Uint8Array(view.buffer, view.byteOffset + off, 16);
  if (b.slice(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff) return `${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((b[i]! << 8) | b[i + 1]!).toString(16));
  return groups.join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
}

export function decodeEnforce(view: DataView, off: number, len: number, ctx: DecodeContext, names: PolicyNames): EnforceEvent {
  if (len < R.offsets.path) throw new RangeError(`enforce record of ${len} bytes is shorter than its fixed part (${R.offsets.path})`);
  const kindNr = view.getUint8(off + R.offsets.kind);
  const kind = KINDS[kindNr as keyof typeof KINDS];
  if (!kind) throw new RangeError(`enforce record with unknown kind ${kindNr}`);
  const pathLen = view.getUint16(off + R.offsets.path_len, true);
  if (R.offsets.path + pathLen > len) throw new RangeError(`enforce record of ${len} bytes cannot hold its ${pathLen}-byte path`);
  const policy = names.byId(view.getUint32(off + R.offsets.policy_id, true));
  const taken = TAKEN[view.getUint8(off + R.offsets.taken)] ?? 'none';
  const e = recordEvent<EnforceEvent>(`enforce.${kind}`, view, off, ctx);
  e.policy = policy?.name ?? null;
  e.action = ACTIONS[view.getUint8(off + R.offsets.action)] ?? 'audit';
  e.enforced_as = taken === 'kill-process' || taken === 'kill-thread' ? 'kill' : taken;
  if (taken === 'kill-process' || taken === 'kill-thread') e.scope = taken === 'kill-process' ? 'process' : 'thread';
  e.dryRun = policy?.dryRun ?? false;
  const nr = Number(view.getBigInt64(off + R.offsets.syscall, true));
  e.syscall = nr < 0 ? null : (SYSCALL_NAME.get(nr) ?? `syscall_${nr}`);
  if (kind === 'exec' || kind === 'open') e.path = readCString(view, off + R.offsets.path, pathLen);
  if (kind === 'exec') {
    const why = view.getUint8(off + R.offsets.reason);
    e.reason = [...(why & 1 ? (['prefix'] as const) : []), ...(why & 2 ? (['written'] as const) : [])];
    e.inode = Number(view.getBigUint64(off + R.offsets.ino, true));
    e.device = view.getUint32(off + R.offsets.dev, true);
  }
  if (kind === 'open') e.flags = view.getUint32(off + R.offsets.open_flags, true);
  if (kind === 'connect') {
    e.address = address(view, off + R.offsets.addr);
    e.port = view.getUint16(off + R.offsets.port, true);
  }
  if (taken === 'failed') e.error = view.getInt32(off + R.offsets.err, true);
  return e;
}
