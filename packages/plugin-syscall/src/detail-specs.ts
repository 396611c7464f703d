/**
 * The syscalls that can have detail events: which tail-call program captures each one's
 * arguments (by argument shape, see bpf/syscall.bpf.c) and how the captured record becomes the
 * event's named fields (docs/events/syscall.md).
 */
import { posix } from 'node:path';
import { bpfCmdName, socketFamilyName, socketTypeName, cloneFlagNames, ptraceRequestName, S_ISGID, S_ISUID } from './names.js';

/** A detail record as captured: raw arguments, up to three strings, the return value. */
export interface CapturedDetail {
  args: readonly bigint[];
  str0: string;
  str1: string;
  str2: string;
  /** The str2 buffer as bytes (connect's raw sockaddr). */
  raw2: Uint8Array;
  /** sc_detail_record.flags (SC_F_*). */
  flags: number;
}

/** Tail-call programs in bpf/syscall.bpf.c (each has an `exit_` twin on sys_exit). */
export const DETAIL_PROGRAMS = [
  'detail_args',
  'detail_str_arg0',
  'detail_str_arg1',
  'detail_str_arg01',
  'detail_str_arg02',
  'detail_str_arg13',
  'detail_fd_kind',
  'detail_sockaddr',
  'detail_mount',
  'detail_execve',
  'detail_execveat',
] as const;
export type DetailProgram = (typeof DETAIL_PROGRAMS)[number];

/** SC_F_FD0_SOCKET (bpf/syscall.h): dup2/dup3's argument 0 was a socket at entry (family in str2). */
const F_FD0_SOCKET = 0x20;

export interface DetailSpec {
  program: DetailProgram;
  /** 'exec' records carry filename + argv (struct sc_exec_record); the rest struct sc_detail_record. */
  kind: 'detail' | 'exec';
  /** Named fields of the event (ret is added by the decoder). Not used for 'exec'. */
  fields?: (c: CapturedDetail) => Record<string, unknown>;
}

/** Argument as a C int (fds, pids, signals; -1 stays -1). */
const int = (a: bigint | undefined): number => Number(BigInt.asIntN(32, a ?? 0n));
/** Argument as an unsigned 32-bit value (flags, modes). */
const uint = (a: bigint | undefined): number => Number(BigInt.asUintN(32, a ?? 0n));

function chmodFields(path: string | null, mode: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { path, mode, setuid: (mode & S_ISUID) !== 0, setgid: (mode & S_ISGID) !== 0, ...extra };
}

/**
 * A path as the kernel will resolve it, as far as the record tells: an absolute path normalised
 * lexically (`/etc/../etc//shadow` → `/etc/shadow`, so rules about `/etc/shadow` match traversal
 * tricks); a relative one joined to `base` when given. Otherwise null: the record does not carry
 * the working directory or the dirfd's path. Symlinks are not followed (that needs the filesystem).
 */
export function resolvePath(path: string, base: string | null = null): string | null {
  if (path === '') return null;
  if (path.startsWith('/')) return posix.normalize(path).replace(/(.)\/$/, '$1');
  return base === null ? null : resolvePath(`${base}/${path}`);
}

/** A path argument as written and resolved. */
function pathFields(prefix: string, path: string): Record<string, unknown> {
  return { [prefix]: path, [`resolved_${prefix}`]: resolvePath(path) };
}

/** symlink(target, linkpath): a relative target is relative to the link's own directory. */
function symlinkFields(target: string, linkpath: string): Record<string, unknown> {
  const link = resolvePath(linkpath);
  return { target, resolved_target: resolvePath(target, link === null ? null : posix.dirname(link)), ...pathFields('linkpath', linkpath) };
}

/**
 * connect's destination from the raw sockaddr bytes (at most SC_SOCKADDR_LEN = 28): an IPv4 or
 * IPv6 address (v4-mapped as plain IPv4) and port, or an AF_UNIX path (abstract names with a leading `@`; at most 26 bytes,
 * longer ones cut). Other families: family only.
 */
export function sockaddrFields(raw: Uint8Array): Record<string, unknown> {
  const v = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const family = raw.length >= 2 ? v.getUint16(0, true) : 0;
  const out: Record<string, unknown> = { family, family_name: socketFamilyName(family), daddr: null, dport: null };
  if (family === 2 && raw.length >= 8) {
    out.dport = v.getUint16(2, false);
    out.daddr = Array.from(raw.subarray(4, 8)).join('.');
  } else if (family === 10 && raw.length >= 24) {
    out.dport = v.getUint16(2, false);
    const a = raw.subarray(8, 24);
    if (a.subarray(0, 10).every((b) => b === 0) && a[10] === 0xff && a[11] === 0xff) {
      // v4-mapped (an AF_INET6 socket talking IPv4, busybox nc): plain IPv4, as net.* events report it.
      out.daddr = Array.from(a.subarray(12)).join('.');
    } else {
      const groups: string[] = [];
      for (let i = 0; i < 16; i += 2) groups.push(((a[i]! << 8) | a[i + 1]!).toString(16));
      // The URL parser's IPv6 serialisation is RFC 5952's (longest zero run compressed).
      out.daddr = new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1);
    }
  } else if (family === 1) {
    const bytes = raw.subarray(2);
    const abstract = bytes[0] === 0 && bytes.length > 1 && bytes[1] !== 0;
    const body = abstract ? bytes.subarray(1) : bytes;
    const end = body.indexOf(0);
    out.path = (abstract ? '@' : '') + new TextDecoder().decode(end < 0 ? body : body.subarray(0, end));
  }
  return out;
}

/** What detail_fd_kind found about argument 0: a socket, and its family (null when not a socket or unreadable). */
function fdKindFields(c: CapturedDetail): Record<string, unknown> {
  const socket = (c.flags & F_FD0_SOCKET) !== 0;
  const family = socket ? c.raw2[0]! | (c.raw2[1]! << 8) : 0;
  const known = socket && family !== 0xffff;
  return { oldfd_socket: socket, oldfd_family: known ? family : null, oldfd_family_name: known ? socketFamilyName(family) : null };
}

const args = 'detail_args' as const;

export const DETAIL_SPECS: Readonly<Record<string, DetailSpec>> = {
  execve: { program: 'detail_execve', kind: 'exec' },
  execveat: { program: 'detail_execveat', kind: 'exec' },
  mkdir: { program: 'detail_str_arg0', kind: 'detail', fields: (c) => ({ path: c.str0, mode: uint(c.args[1]) }) },
  mkdirat: { program: 'detail_str_arg1', kind: 'detail', fields: (c) => ({ path: c.str0, mode: uint(c.args[2]), dirfd: int(c.args[0]) }) },
  unshare: {
    program: args,
    kind: 'detail',
    fields: (c) => ({ flags: uint(c.args[0]), flag_names: cloneFlagNames(uint(c.args[0])) }),
  },
  setns: {
    program: args,
    kind: 'detail',
    fields: (c) => ({ fd: int(c.args[0]), nstype: uint(c.args[1]), nstype_names: cloneFlagNames(uint(c.args[1])) }),
  },
  mount: {
    program: 'detail_mount',
    kind: 'detail',
    fields: (c) => ({ source: c.str0, target: c.str1, fstype: c.str2, flags: uint(c.args[3]) }),
  },
  umount2: { program: 'detail_str_arg0', kind: 'detail', fields: (c) => ({ target: c.str0, flags: uint(c.args[1]) }) },
  ptrace: {
    program: args,
    kind: 'detail',
    fields: (c) => ({ request: int(c.args[0]), request_name: ptraceRequestName(int(c.args[0])), target_pid: int(c.args[1]) }),
  },
  // init_module gets the module image from memory: there is no name or path to report.
  init_module: { program: args, kind: 'detail', fields: (c) => ({ len: Number(c.args[1] ?? 0n) }) },
  finit_module: { program: args, kind: 'detail', fields: (c) => ({ fd: int(c.args[0]), flags: uint(c.args[2]) }) },
  delete_module: { program: 'detail_str_arg0', kind: 'detail', fields: (c) => ({ name: c.str0, flags: uint(c.args[1]) }) },
  chmod: { program: 'detail_str_arg0', kind: 'detail', fields: (c) => chmodFields(c.str0, uint(c.args[1])) },
  fchmodat: { program: 'detail_str_arg1', kind: 'detail', fields: (c) => chmodFields(c.str0, uint(c.args[2]), { dirfd: int(c.args[0]) }) },
  // fchmod names a file descriptor, not a path: path is null, fd says which.
  fchmod: { program: args, kind: 'detail', fields: (c) => chmodFields(null, uint(c.args[1]), { fd: int(c.args[0]) }) },
  setuid: { program: args, kind: 'detail', fields: (c) => ({ uid: int(c.args[0]) }) },
  setgid: { program: args, kind: 'detail', fields: (c) => ({ gid: int(c.args[0]) }) },
  setreuid: { program: args, kind: 'detail', fields: (c) => ({ uid: int(c.args[0]), euid: int(c.args[1]) }) },
  setregid: { program: args, kind: 'detail', fields: (c) => ({ gid: int(c.args[0]), egid: int(c.args[1]) }) },
  setresuid: { program: args, kind: 'detail', fields: (c) => ({ uid: int(c.args[0]), euid: int(c.args[1]), suid: int(c.args[2]) }) },
  setresgid: { program: args, kind: 'detail', fields: (c) => ({ gid: int(c.args[0]), egid: int(c.args[1]), sgid: int(c.args[2]) }) },
  memfd_create: { program: 'detail_str_arg0', kind: 'detail', fields: (c) => ({ name: c.str0, flags: uint(c.args[1]) }) },
  bpf: { program: args, kind: 'detail', fields: (c) => ({ cmd: int(c.args[0]), cmd_name: bpfCmdName(int(c.args[0])) }) },
  kill: { program: args, kind: 'detail', fields: (c) => ({ target_pid: int(c.args[0]), signal: int(c.args[1]) }) },
  link: { program: 'detail_str_arg01', kind: 'detail', fields: (c) => ({ ...pathFields('oldpath', c.str0), ...pathFields('newpath', c.str1) }) },
  linkat: {
    program: 'detail_str_arg13',
    kind: 'detail',
    fields: (c) => ({ ...pathFields('oldpath', c.str0), ...pathFields('newpath', c.str1), olddirfd: int(c.args[0]), newdirfd: int(c.args[2]), flags: uint(c.args[4]) }),
  },
  symlink: { program: 'detail_str_arg01', kind: 'detail', fields: (c) => symlinkFields(c.str0, c.str1) },
  symlinkat: { program: 'detail_str_arg02', kind: 'detail', fields: (c) => ({ ...symlinkFields(c.str0, c.str1), newdirfd: int(c.args[1]) }) },
  unlink: { program: 'detail_str_arg0', kind: 'detail', fields: (c) => pathFields('path', c.str0) },
  unlinkat: {
    program: 'detail_str_arg1',
    kind: 'detail',
    // flags: AT_REMOVEDIR (0x200) for rmdir.
    fields: (c) => ({ ...pathFields('path', c.str0), dirfd: int(c.args[0]), flags: uint(c.args[2]) }),
  },
  rename: { program: 'detail_str_arg01', kind: 'detail', fields: (c) => ({ ...pathFields('oldpath', c.str0), ...pathFields('newpath', c.str1) }) },
  renameat: {
    program: 'detail_str_arg13',
    kind: 'detail',
    fields: (c) => ({ ...pathFields('oldpath', c.str0), ...pathFields('newpath', c.str1), olddirfd: int(c.args[0]), newdirfd: int(c.args[2]) }),
  },
  renameat2: {
    program: 'detail_str_arg13',
    kind: 'detail',
    fields: (c) => ({ ...pathFields('oldpath', c.str0), ...pathFields('newpath', c.str1), olddirfd: int(c.args[0]), newdirfd: int(c.args[2]), flags: uint(c.args[4]) }),
  },
  truncate: { program: 'detail_str_arg0', kind: 'detail', fields: (c) => ({ ...pathFields('path', c.str0), length: Number(BigInt.asIntN(64, c.args[1] ?? 0n)) }) },
  // ftruncate names a descriptor: no path in the record.
  ftruncate: { program: args, kind: 'detail', fields: (c) => ({ fd: int(c.args[0]), length: Number(BigInt.asIntN(64, c.args[1] ?? 0n)) }) },
  socket: {
    program: args,
    kind: 'detail',
    fields: (c) => {
      const family = int(c.args[0]);
      const type = uint(c.args[1]);
      // `sock_type`, not `type`: `type` is the event type.
      return { family, family_name: socketFamilyName(family), sock_type: type, sock_type_name: socketTypeName(type), protocol: int(c.args[2]) };
    },
  },
  // oldfd_socket/oldfd_family: the duplicated descriptor is a socket (a reverse shell puts a TCP one on 0/1/2).
  dup2: { program: 'detail_fd_kind', kind: 'detail', fields: (c) => ({ oldfd: int(c.args[0]), newfd: int(c.args[1]), ...fdKindFields(c) }) },
  dup3: { program: 'detail_fd_kind', kind: 'detail', fields: (c) => ({ oldfd: int(c.args[0]), newfd: int(c.args[1]), flags: uint(c.args[2]), ...fdKindFields(c) }) },
  connect: { program: 'detail_sockaddr', kind: 'detail', fields: (c) => ({ fd: int(c.args[0]), ...sockaddrFields(c.raw2.subarray(0, Math.min(28, Number(c.args[2] ?? 0n)))) }) },
  tgkill: { program: args, kind: 'detail', fields: (c) => ({ target_tgid: int(c.args[0]), target_pid: int(c.args[1]), signal: int(c.args[2]) }) },
};

/** Every syscall that can have detail events (the default `detail` list). */
export const DETAIL_SYSCALLS: readonly string[] = Object.keys(DETAIL_SPECS);
