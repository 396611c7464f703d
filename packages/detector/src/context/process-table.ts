/**
 * Process context the detector reconstructs from process.exec / process.fork / process.exit and a few
 * other events, so rules can ask about the process behind an event (`proc.exe`, `proc.pname`, ...) and
 * about state no single event carries: "this binary was written at run time", "this process holds an
 * outbound socket", "this container is frozen".
 *
 * Memory is bounded: processes and per-container written-file sets are capped, evicting the oldest.
 */
import { containerKey, type ContainerInfo, type IEvent } from '@boxwatch/core';

export interface ProcEntry {
  pid: number;
  ppid: number;
  comm: string;
  /**
   * What the program is called: the basename of the path exec'd (a symlink's own name: /bin/cat),
   * or of argv[0] when a program re-exec'd itself through /proc/self/exe (busybox's shell running
   * an applet); comm when the exec was not seen.
   */
  name: string;
  /**
   * The file the process runs, from the last exec seen ('' when unknown): the kernel's
   * mm->exe_file as the container sees it (process.exec `exe`: /bin/busybox for /proc/self/exe or
   * /bin/cat); for a #! script the script; else the path exec'd.
   */
  exe: string;
  /** The path exec'd when `exe` came from the kernel (lets that exec's syscall.execve keep it). */
  execFilename?: string;
  argv: string[];
  uid: number;
  /** The executable was created or written by a process of the same container after it started. */
  exe_written_at_runtime: boolean;
  /** The executable is an anonymous memory file (memfd_create + fexecve). */
  exe_from_memfd: boolean;
  /** This process (or an ancestor before fork) called memfd_create. */
  created_memfd: boolean;
  /** This process (or an ancestor before fork/exec, fds are inherited) made an outbound connection. */
  has_outbound_connection: boolean;
  /** Destinations (`addr:port`) of those connections, newest last, at most 8. */
  outbound_peers: string[];
  /** True when the exec or fork of this process was seen (false: made up from an event header). */
  known: boolean;
}

export interface ProcessTableOptions {
  maxProcesses?: number;
  /** Written paths remembered per container for drift detection. */
  maxWrittenFiles?: number;
}

const SHELL_FD_EXEC = /^\/(proc\/self|dev)\/fd\/\d+$/;
const SELF_EXE = /^\/proc\/(self|\d+)\/exe$/;

function basename(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? path : path.slice(i + 1);
}

/** Per-container state: written files (drift) and the operator's frozen flag. */
interface ContainerState {
  written: Set<string>;
}

export class ProcessTable {
  private readonly procs = new Map<number, ProcEntry>();
  private readonly containers = new Map<string, ContainerState>();
  private readonly frozen = new Set<string>();
  private readonly maxProcesses: number;
  private readonly maxWrittenFiles: number;
  /** The stream has process.exec events: they, not syscall.execve, say what a process runs. */
  private processExecSeen = false;

  constructor(options: ProcessTableOptions = {}) {
    this.maxProcesses = options.maxProcesses ?? 65_536;
    this.maxWrittenFiles = options.maxWrittenFiles ?? 4096;
  }

  get size(): number {
    return this.procs.size;
  }

  get(pid: number): ProcEntry | undefined {
    return this.procs.get(pid);
  }

  /**
   * Update the table from an event (before rules see it, so a process.exec is evaluated with the new
   * executable) and return the entry of the event's process, or null for events without one.
   */
  observe(event: IEvent): ProcEntry | null {
    const e = event as unknown as Record<string, unknown>;
    switch (event.type) {
      case 'process.exec':
      case 'syscall.execve':
      case 'syscall.execveat': {
        if (typeof e.ret === 'number' && e.ret < 0) return this.entryFor(event);
        // In kernel order a syscall.execve (stamped at syscall entry) comes before the process.exec of
        // the same exec: it is the caller asking for the program. The process.exec that follows says
        // what runs (the kernel's exe, the new comm); only a stream without them learns it from here.
        if (event.type === 'process.exec') this.processExecSeen = true;
        else if (this.processExecSeen) return this.entryFor(event);
        const entry = this.entryFor(event);
        const filename = String(e.filename ?? '');
        const argv = Array.isArray(e.argv) ? (e.argv as string[]) : [];
        // A #! script is the program its process runs (the kernel's exe is its interpreter).
        const script = typeof e.interpreter === 'string';
        const realExe = !script && typeof e.exe === 'string' && e.exe !== '' ? e.exe : null;
        if (realExe !== null) {
          entry.exe = realExe;
          entry.execFilename = filename;
        } else if (script || entry.execFilename !== filename || entry.exe === '') {
          entry.exe = filename;
          entry.execFilename = undefined;
        } // else: the syscall.execve of the exec whose process.exec gave the real file
        entry.name = (SELF_EXE.test(filename) && argv[0] ? basename(argv[0]) : basename(filename)) || event.comm;
        entry.comm = event.comm;
        entry.argv = argv;
        if (typeof e.ppid === 'number' && e.ppid > 0) entry.ppid = e.ppid;
        if (typeof e.uid === 'number') entry.uid = e.uid;
        entry.known = true;
        const state = event.container ? this.containerState(containerKey(event)) : undefined;
        entry.exe_written_at_runtime = state !== undefined && (state.written.has(filename) || state.written.has(entry.exe));
        entry.exe_from_memfd = filename.startsWith('/memfd:') || entry.exe.startsWith('/memfd:') || (entry.created_memfd && SHELL_FD_EXEC.test(filename));
        return entry;
      }
      case 'process.fork': {
        const parent = this.entryFor(event);
        const childPid = e.child_pid as number;
        if (typeof childPid === 'number' && childPid > 0) {
          const child: ProcEntry = { ...parent, pid: childPid, ppid: parent.pid, argv: parent.argv, outbound_peers: [...parent.outbound_peers], known: true };
          // The child's own events can arrive before its fork (each plugin drains its own ring
          // buffer): keep what they taught us rather than overwrite it with the parent's copy. An entry
          // with an exec or fork of its own cannot be the child's (those come in the fork's own ring
          // buffer, after it): it is an earlier process with this pid whose exit was lost.
          const early = this.procs.get(childPid);
          if (early && !early.known) {
            child.has_outbound_connection ||= early.has_outbound_connection;
            child.outbound_peers = [...new Set([...child.outbound_peers, ...early.outbound_peers])].slice(-8);
            child.created_memfd ||= early.created_memfd;
            if (early.exe !== '') Object.assign(child, { exe: early.exe, name: early.name, comm: early.comm, argv: early.argv, exe_written_at_runtime: early.exe_written_at_runtime, exe_from_memfd: early.exe_from_memfd });
          }
          this.put(child);
        }
        return parent;
      }
      case 'process.exit': {
        const entry = this.procs.get(event.pid) ?? this.entryFor(event);
        // Rules still see the exiting process; the entry is dropped after this event.
        this.procs.delete(event.pid);
        return entry;
      }
      case 'file.open': {
        const entry = this.entryFor(event);
        const flags = e.flags as { write?: boolean; create?: boolean; trunc?: boolean } | undefined;
        const ok = typeof e.ret !== 'number' || e.ret >= 0;
        if (ok && flags && (flags.write || flags.create) && event.container && typeof e.path === 'string') {
          const written = this.containerState(containerKey(event)).written;
          written.delete(e.path); // re-insert: most recent last, so eviction drops the oldest
          written.add(e.path);
          if (written.size > this.maxWrittenFiles) written.delete(written.values().next().value as string);
        }
        return entry;
      }
      case 'net.connect': {
        const entry = this.entryFor(event);
        entry.has_outbound_connection = true;
        entry.outbound_peers.push(`${String(e.daddr)}:${String(e.dport)}`);
        if (entry.outbound_peers.length > 8) entry.outbound_peers.shift();
        return entry;
      }
      case 'syscall.memfd_create': {
        const entry = this.entryFor(event);
        if (typeof e.ret !== 'number' || e.ret >= 0) entry.created_memfd = true;
        return entry;
      }
      case 'syscall.count':
      case 'net.flow':
        // Reports drained after the fact (a counter interval, a flow's bytes), often after the
        // process exited: making an entry for them would keep dead processes until evicted.
        return this.procs.get(event.pid) ?? null;
      default:
        return event.pid > 0 ? this.entryFor(event) : null;
    }
  }

  /** Names of the ancestors, parent first, at most `max`. */
  ancestorNames(entry: ProcEntry, max = 8): string[] {
    return this.ancestors(entry, max).map((p) => p.name);
  }

  /** Executables of the ancestors, nearest first. */
  ancestorExes(entry: ProcEntry, max = 8): string[] {
    return this.ancestors(entry, max).map((p) => p.exe);
  }

  private ancestors(entry: ProcEntry, max: number): ProcEntry[] {
    const out: ProcEntry[] = [];
    let ppid = entry.ppid;
    const seen = new Set<number>([entry.pid]);
    while (out.length < max && ppid > 0 && !seen.has(ppid)) {
      seen.add(ppid);
      const parent = this.procs.get(ppid);
      if (!parent) break;
      out.push(parent);
      ppid = parent.ppid;
    }
    return out;
  }

  freeze(idOrName: string): void {
    this.frozen.add(idOrName);
  }

  unfreeze(idOrName: string): boolean {
    return this.frozen.delete(idOrName);
  }

  frozenKeys(): string[] {
    return [...this.frozen];
  }

  /** A container is frozen when the operator named it by full id, name, or an id prefix of 12+ characters. */
  isFrozen(container: ContainerInfo | null): boolean {
    if (!container || this.frozen.size === 0) return false;
    const id = container.id;
    if (id === null) return false; // an operator can only name containers whose id is known
    if (this.frozen.has(id) || (container.name !== undefined && this.frozen.has(container.name))) return true;
    for (const key of this.frozen) if (key.length >= 12 && id.startsWith(key)) return true;
    return false;
  }

  forgetContainer(id: string): void {
    this.containers.delete(id);
  }

  private containerState(id: string): ContainerState {
    let state = this.containers.get(id);
    if (!state) {
      state = { written: new Set() };
      this.containers.set(id, state);
    }
    return state;
  }

  private entryFor(event: IEvent): ProcEntry {
    const existing = this.procs.get(event.pid);
    if (existing) {
      // No exec seen for this process (made up from a header, or forked from one): its name is only its
      // comm. Events of several plugins arrive in separate ring buffers, so a file.open of a freshly
      // exec'd `cat` can come before the process.exec: follow the comm rather than keep the old name.
      if (!existing.known || existing.exe === '') {
        existing.comm = event.comm;
        existing.name = event.comm;
      }
      return existing;
    }
    const e = event as unknown as Record<string, unknown>;
    const entry: ProcEntry = {
      pid: event.pid,
      ppid: typeof e.ppid === 'number' ? e.ppid : 0,
      comm: event.comm,
      name: event.comm,
      exe: '',
      argv: [],
      uid: -1,
      exe_written_at_runtime: false,
      exe_from_memfd: false,
      created_memfd: false,
      has_outbound_connection: false,
      outbound_peers: [],
      known: false,
    };
    this.put(entry);
    return entry;
  }

  private put(entry: ProcEntry): void {
    this.procs.delete(entry.pid);
    this.procs.set(entry.pid, entry);
    if (this.procs.size > this.maxProcesses) this.procs.delete(this.procs.keys().next().value as number);
  }
}
