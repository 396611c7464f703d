/**
 * The fields a rule condition may reference, per event type, taken from docs/events/CONTRACT.md.
 * Used at load time to reject `evt.<field>` references that no event the rule can see carries
 * (a typo like `evt.filname` would otherwise never match and fail silently).
 */

export const HEADER_FIELDS: readonly string[] = ['type', 'time', 'ts', 'host', 'container', 'cgroupId', 'pid', 'tid', 'comm'];

// Every syscall detail event carries its return value and whether seccomp blocked the call.
const ret = ['ret', 'blocked'];
const setIds = ['uid', 'gid', 'euid', 'egid', 'ruid', 'rgid', 'suid', 'sgid', ...ret];
const chmod = ['path', 'mode', 'setuid', 'setgid', ...ret];
// Two-path syscalls (link, rename): as written and lexically resolved (docs/events/syscall.md).
const twoPaths = ['oldpath', 'newpath', 'resolved_oldpath', 'resolved_newpath', ...ret];
const symlink = ['target', 'linkpath', 'resolved_target', 'resolved_linkpath', ...ret];

export const EVENT_FIELDS: Readonly<Record<string, readonly string[]>> = {
  'process.exec': ['filename', 'exe', 'interpreter', 'argv', 'ppid', 'uid', 'ns_pid', 'tty', 'argv_truncated', 'filename_truncated', 'exe_truncated', 'interpreter_truncated'],
  'process.fork': ['child_pid', 'ppid'],
  'process.exit': ['exit_code', 'signal', 'core_dumped'],
  'syscall.count': ['syscall', 'count', 'interval_ms'],
  'syscall.seq': ['syscalls'],
  'syscall.execve': ['filename', 'argv', 'argv_truncated', ...ret],
  'syscall.execveat': ['filename', 'argv', 'argv_truncated', ...ret],
  'syscall.mkdir': ['path', 'mode', ...ret],
  'syscall.mkdirat': ['path', 'mode', 'dirfd', ...ret],
  'syscall.unshare': ['flags', 'flag_names', ...ret],
  'syscall.setns': ['fd', 'nstype', 'nstype_names', ...ret],
  'syscall.mount': ['source', 'target', 'fstype', 'flags', ...ret],
  'syscall.umount2': ['target', 'flags', ...ret],
  'syscall.ptrace': ['request', 'request_name', 'target_pid', ...ret],
  'syscall.init_module': ['len', ...ret],
  'syscall.finit_module': ['fd', 'flags', ...ret],
  'syscall.delete_module': ['name', 'flags', ...ret],
  'syscall.chmod': chmod,
  'syscall.fchmodat': ['dirfd', ...chmod],
  'syscall.fchmod': ['fd', ...chmod],
  'syscall.setuid': setIds,
  'syscall.setgid': setIds,
  'syscall.setreuid': setIds,
  'syscall.setregid': setIds,
  'syscall.setresuid': setIds,
  'syscall.setresgid': setIds,
  'syscall.memfd_create': ['name', 'flags', ...ret],
  'syscall.bpf': ['cmd', 'cmd_name', ...ret],
  'syscall.kill': ['signal', 'target_pid', ...ret],
  'syscall.tgkill': ['signal', 'target_tgid', 'target_pid', ...ret],
  'syscall.link': twoPaths,
  'syscall.linkat': ['olddirfd', 'newdirfd', 'flags', ...twoPaths],
  'syscall.symlink': symlink,
  'syscall.symlinkat': ['newdirfd', ...symlink],
  'syscall.unlink': ['path', 'resolved_path', ...ret],
  'syscall.unlinkat': ['path', 'resolved_path', 'dirfd', 'flags', ...ret],
  'syscall.rename': twoPaths,
  'syscall.renameat': ['olddirfd', 'newdirfd', ...twoPaths],
  'syscall.renameat2': ['olddirfd', 'newdirfd', 'flags', ...twoPaths],
  'syscall.truncate': ['path', 'resolved_path', 'length', ...ret],
  'syscall.ftruncate': ['fd', 'length', ...ret],
  'syscall.socket': ['family', 'family_name', 'sock_type', 'sock_type_name', 'protocol', ...ret],
  'syscall.dup2': ['oldfd', 'newfd', 'oldfd_socket', 'oldfd_family', 'oldfd_family_name', ...ret],
  'syscall.dup3': ['oldfd', 'newfd', 'flags', 'oldfd_socket', 'oldfd_family', 'oldfd_family_name', ...ret],
  'syscall.connect': ['fd', 'family', 'family_name', 'daddr', 'dport', 'path', ...ret],
  'file.open': ['path', 'fs', 'flags', 'raw_flags', 'mode', 'ret', 'truncated'],
  'net.connect': ['proto', 'saddr', 'sport', 'daddr', 'dport', 'peer_container'],
  'net.accept': ['proto', 'saddr', 'sport', 'daddr', 'dport', 'peer_container'],
  'net.listen': ['proto', 'addr', 'port'],
  'net.flow': ['proto', 'saddr', 'sport', 'daddr', 'dport', 'state', 'states_seen', 'bytes_sent', 'bytes_recv', 'ended', 'peer_container', 'interval_ms'],
  'net.banned': ['proto', 'direction', 'saddr', 'sport', 'daddr', 'dport', 'bytes', 'rule'],
  'resource.usage': [
    'cpu_percent', 'cpu_throttled_ms', 'memory_bytes', 'memory_limit_bytes', 'oom_kills', 'pids',
    'io_read_bytes', 'io_write_bytes', 'net_rx_bytes', 'net_tx_bytes', 'interval_ms',
  ],
};

/** Fields of the `proc` context the detector computes (see context/process-table.ts). */
export const PROC_FIELDS: readonly string[] = [
  'pid', 'ppid', 'comm', 'name', 'exe', 'argv', 'cmdline', 'uid', 'pname', 'pexe', 'pcmdline', 'anames', 'aexes',
  'exe_written_at_runtime', 'exe_from_memfd', 'created_memfd', 'has_outbound_connection', 'outbound_peers',
  'container', 'known',
];

/** Fields of `proc.container`. */
export const CONTAINER_FIELDS: readonly string[] = ['id', 'name', 'image', 'imageId', 'labels', 'runtime', 'frozen'];

/** Every top-level `evt.<x>` field any known event type carries (for rules not restricted by type). */
export const ALL_EVENT_FIELDS: ReadonlySet<string> = new Set([...HEADER_FIELDS, ...Object.values(EVENT_FIELDS).flat()]);

/**
 * True when `field` (the first segment after `evt.`) can occur on at least one of `types`.
 * Unknown event types (a plugin the detector does not know) accept any field.
 */
export function eventFieldKnown(field: string, types: readonly string[] | null): boolean {
  if (HEADER_FIELDS.includes(field)) return true;
  if (types === null) return ALL_EVENT_FIELDS.has(field);
  return types.some((t) => {
    const fields = EVENT_FIELDS[t];
    return fields === undefined || fields.includes(field);
  });
}
