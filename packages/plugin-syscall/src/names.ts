/**
 * Symbolic names for flag and command arguments of detail syscalls (UAPI values, stable ABI:
 * linux/sched.h CLONE_*, linux/ptrace.h PTRACE_*, linux/bpf.h enum bpf_cmd).
 */

/** Namespace and sharing flags of unshare(2) / setns(2) nstype. */
const CLONE_FLAGS: ReadonlyArray<readonly [number, string]> = [
  [0x00000080, 'CLONE_NEWTIME'],
  [0x00000100, 'CLONE_VM'],
  [0x00000200, 'CLONE_FS'],
  [0x00000400, 'CLONE_FILES'],
  [0x00000800, 'CLONE_SIGHAND'],
  [0x00010000, 'CLONE_THREAD'],
  [0x00020000, 'CLONE_NEWNS'],
  [0x00040000, 'CLONE_SYSVSEM'],
  [0x02000000, 'CLONE_NEWCGROUP'],
  [0x04000000, 'CLONE_NEWUTS'],
  [0x08000000, 'CLONE_NEWIPC'],
  [0x10000000, 'CLONE_NEWUSER'],
  [0x20000000, 'CLONE_NEWPID'],
  [0x40000000, 'CLONE_NEWNET'],
];

/** Names of the set bits; bits without a name come out as hex (`0x1`). */
export function cloneFlagNames(flags: number): string[] {
  const out: string[] = [];
  let rest = flags >>> 0;
  for (const [bit, name] of CLONE_FLAGS) {
    if (rest & bit) {
      out.push(name);
      rest = (rest & ~bit) >>> 0;
    }
  }
  if (rest) out.push(`0x${rest.toString(16)}`);
  return out;
}

const PTRACE_REQUESTS = new Map<number, string>([
  [0, 'PTRACE_TRACEME'],
  [1, 'PTRACE_PEEKTEXT'],
  [2, 'PTRACE_PEEKDATA'],
  [3, 'PTRACE_PEEKUSR'],
  [4, 'PTRACE_POKETEXT'],
  [5, 'PTRACE_POKEDATA'],
  [6, 'PTRACE_POKEUSR'],
  [7, 'PTRACE_CONT'],
  [8, 'PTRACE_KILL'],
  [9, 'PTRACE_SINGLESTEP'],
  [12, 'PTRACE_GETREGS'],
  [13, 'PTRACE_SETREGS'],
  [14, 'PTRACE_GETFPREGS'],
  [15, 'PTRACE_SETFPREGS'],
  [16, 'PTRACE_ATTACH'],
  [17, 'PTRACE_DETACH'],
  [24, 'PTRACE_SYSCALL'],
  [0x4200, 'PTRACE_SETOPTIONS'],
  [0x4201, 'PTRACE_GETEVENTMSG'],
  [0x4202, 'PTRACE_GETSIGINFO'],
  [0x4203, 'PTRACE_SETSIGINFO'],
  [0x4204, 'PTRACE_GETREGSET'],
  [0x4205, 'PTRACE_SETREGSET'],
  [0x4206, 'PTRACE_SEIZE'],
  [0x4207, 'PTRACE_INTERRUPT'],
  [0x4208, 'PTRACE_LISTEN'],
  [0x4209, 'PTRACE_PEEKSIGINFO'],
]);

export function ptraceRequestName(request: number): string {
  return PTRACE_REQUESTS.get(request) ?? `PTRACE_${request}`;
}

/** enum bpf_cmd (linux/bpf.h). */
const BPF_CMDS = [
  'BPF_MAP_CREATE',
  'BPF_MAP_LOOKUP_ELEM',
  'BPF_MAP_UPDATE_ELEM',
  'BPF_MAP_DELETE_ELEM',
  'BPF_MAP_GET_NEXT_KEY',
  'BPF_PROG_LOAD',
  'BPF_OBJ_PIN',
  'BPF_OBJ_GET',
  'BPF_PROG_ATTACH',
  'BPF_PROG_DETACH',
  'BPF_PROG_TEST_RUN',
  'BPF_PROG_GET_NEXT_ID',
  'BPF_MAP_GET_NEXT_ID',
  'BPF_PROG_GET_FD_BY_ID',
  'BPF_MAP_GET_FD_BY_ID',
  'BPF_OBJ_GET_INFO_BY_FD',
  'BPF_PROG_QUERY',
  'BPF_RAW_TRACEPOINT_OPEN',
  'BPF_BTF_LOAD',
  'BPF_BTF_GET_FD_BY_ID',
  'BPF_TASK_FD_QUERY',
  'BPF_MAP_LOOKUP_AND_DELETE_ELEM',
  'BPF_MAP_FREEZE',
  'BPF_BTF_GET_NEXT_ID',
  'BPF_MAP_LOOKUP_BATCH',
  'BPF_MAP_LOOKUP_AND_DELETE_BATCH',
  'BPF_MAP_UPDATE_BATCH',
  'BPF_MAP_DELETE_BATCH',
  'BPF_LINK_CREATE',
  'BPF_LINK_UPDATE',
  'BPF_LINK_GET_FD_BY_ID',
  'BPF_LINK_GET_NEXT_ID',
  'BPF_ENABLE_STATS',
  'BPF_ITER_CREATE',
  'BPF_LINK_DETACH',
  'BPF_PROG_BIND_MAP',
  'BPF_TOKEN_CREATE',
  'BPF_PROG_STREAM_READ_BY_FD',
];

export function bpfCmdName(cmd: number): string {
  return BPF_CMDS[cmd] ?? `BPF_CMD_${cmd}`;
}

/** chmod mode bits a detector cares about. */
export const S_ISUID = 0o4000;
export const S_ISGID = 0o2000;

/** Address families rules care about (linux/socket.h); others are named `AF_<n>`. */
const SOCKET_FAMILIES: Readonly<Record<number, string>> = {
  1: 'AF_UNIX', 2: 'AF_INET', 10: 'AF_INET6', 16: 'AF_NETLINK', 17: 'AF_PACKET', 40: 'AF_VSOCK',
};

export function socketFamilyName(family: number): string {
  return SOCKET_FAMILIES[family] ?? `AF_${family}`;
}

/** Socket types (linux/net.h); the SOCK_NONBLOCK / SOCK_CLOEXEC bits above 0xf are not part of it. */
const SOCKET_TYPES: Readonly<Record<number, string>> = {
  1: 'SOCK_STREAM', 2: 'SOCK_DGRAM', 3: 'SOCK_RAW', 4: 'SOCK_RDM', 5: 'SOCK_SEQPACKET', 6: 'SOCK_DCCP', 10: 'SOCK_PACKET',
};

export function socketTypeName(type: number): string {
  const t = type & 0xf;
  return SOCKET_TYPES[t] ?? `SOCK_${t}`;
}
