import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { containerIdFromCgroupName } from './cgroup-name.js';

/**
 * Maps cgroup v2 ids to container ids by walking the cgroup2 hierarchy. The id the kernel reports
 * (bpf_get_current_cgroup_id) is the inode number of the cgroup's directory in cgroupfs, so a
 * stat() of each container cgroup directory gives the mapping without asking the runtime.
 */
export class CgroupIndex {
  private readonly root: string | null;
  private byIno = new Map<bigint, string>();
  private byContainer = new Map<string, bigint>();

  constructor(root: string | null = findCgroup2Root()) {
    this.root = root;
  }

  get cgroup2Root(): string | null {
    return this.root;
  }

  /** Rescan (bounded depth: container cgroups sit at most a few levels down). */
  rescan(): void {
    if (!this.root) return;
    const byIno = new Map<bigint, string>();
    const byContainer = new Map<string, bigint>();
    const walk = (dir: string, depth: number) => {
      let entries: string[];
      try {
        entries = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
      } catch {
        return; // the cgroup vanished while we walked
      }
      for (const name of entries) {
        const path = join(dir, name);
        const id = containerIdFromCgroupName(name);
        if (id) {
          try {
            const ino = statSync(path, { bigint: true }).ino;
            byIno.set(ino, id);
            byContainer.set(id, ino);
          } catch {
            /* gone */
          }
          continue; // nested cgroups inside a container belong to it too, but runtimes do not create them
        }
        if (depth < 3) walk(path, depth + 1);
      }
    };
    walk(this.root, 0);
    this.byIno = byIno;
    this.byContainer = byContainer;
  }

  containerOf(cgroupId: bigint): string | null {
    return this.byIno.get(cgroupId) ?? null;
  }

  cgroupIdOf(containerId: string): bigint | null {
    return this.byContainer.get(containerId) ?? null;
  }

  /** cgroup id of a process, from /proc/<pid>/cgroup's v2 line (`0::/path`). */
  cgroupIdOfPid(pid: number): bigint | null {
    if (!this.root) return null;
    try {
      const line = readFileSync(`/proc/${pid}/cgroup`, 'utf8')
        .split('\n')
        .find((l) => l.startsWith('0::'));
      if (!line) return null;
      return statSync(join(this.root, line.slice(3)), { bigint: true }).ino;
    } catch {
      return null;
    }
  }
}

/** Mount point of the cgroup2 hierarchy (unified or hybrid), from /proc/self/mounts. */
export function findCgroup2Root(): string | null {
  try {
    for (const line of readFileSync('/proc/self/mounts', 'utf8').split('\n')) {
      const f = line.split(' ');
      if (f[2] === 'cgroup2' && f[1]) return f[1];
    }
  } catch {
    /* no procfs */
  }
  return null;
}
