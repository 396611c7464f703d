/**
 * Where cgroup accounting lives on this host, and where one container's cgroup is inside it.
 *
 * The layout (which hierarchies are mounted where) is read once from mountinfo. A container's cgroup
 * is found from its init process's `/proc/<pid>/cgroup`, which names the exact path whatever the
 * cgroup driver calls it (cgroupfs `docker/<id>`, systemd `system.slice/docker-<id>.scope`, nested
 * Kubernetes slices, rootless user slices). When that path is not visible from here (the agent runs in
 * its own cgroup namespace), the usual runtime names are tried.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';

/** The cgroup v1 controllers whose accounting the plugin reads. */
export const V1_CONTROLLERS = ['cpuacct', 'cpu', 'memory', 'pids', 'blkio'] as const;
export type V1Controller = (typeof V1_CONTROLLERS)[number];

export interface CgroupMount {
  /** Where the hierarchy is mounted, e.g. `/sys/fs/cgroup/memory`. */
  mountPoint: string;
  /** Which cgroup of the hierarchy is at the mount point (`/` unless a subtree is bind-mounted). */
  root: string;
}

export type CgroupLayout =
  | { version: 1; controllers: Map<V1Controller, CgroupMount> }
  | { version: 2; unified: CgroupMount };

/**
 * Decides the layout from `/proc/self/mountinfo`. A host with v1 memory or cpuacct hierarchies
 * mounted accounts containers there (a hybrid host's cgroup2 tree has no controllers); otherwise the
 * cgroup2 mount is used.
 */
export function detectLayout(mountinfo: string): CgroupLayout | null {
  const controllers = new Map<V1Controller, CgroupMount>();
  let unified: CgroupMount | null = null;
  for (const line of mountinfo.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const pre = line.slice(0, sep).split(' ');
    const post = line.slice(sep + 3).split(' ');
    const root = pre[3];
    const mountPoint = pre[4];
    const fstype = post[0];
    const superOptions = post[2] ?? '';
    if (root === undefined || mountPoint === undefined) continue;
    const mount = { mountPoint: unescapeMountPath(mountPoint), root: unescapeMountPath(root) };
    if (fstype === 'cgroup2') {
      unified ??= mount;
    } else if (fstype === 'cgroup') {
      for (const opt of superOptions.split(',')) {
        if ((V1_CONTROLLERS as readonly string[]).includes(opt) && !controllers.has(opt as V1Controller)) {
          controllers.set(opt as V1Controller, mount);
        }
      }
    }
  }
  if (controllers.has('memory') || controllers.has('cpuacct')) return { version: 1, controllers };
  if (unified) return { version: 2, unified };
  return null;
}

/** mountinfo escapes space, tab, newline and backslash as octal (`\040`). */
function unescapeMountPath(p: string): string {
  return p.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** `/proc/<pid>/cgroup`: `hierarchy:controllers:path` lines. Returns controller → path, `''` for the v2 line. */
export function parseProcCgroup(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const first = line.indexOf(':');
    const second = line.indexOf(':', first + 1);
    if (first < 0 || second < 0) continue;
    const controllers = line.slice(first + 1, second);
    const cgPath = line.slice(second + 1);
    if (controllers === '') out.set('', cgPath);
    else for (const c of controllers.split(',')) out.set(c, cgPath);
  }
  return out;
}

/** Cgroup paths runtimes give a container, tried when the process's own path is not visible. */
export function candidateCgroupPaths(containerId: string): string[] {
  return [
    `/docker/${containerId}`, // cgroupfs driver (this machine)
    `/system.slice/docker-${containerId}.scope`, // systemd driver
    `/system.slice/containerd.service/${containerId}`,
    `/machine.slice/libpod-${containerId}.scope`, // podman
    `/libpod_parent/libpod-${containerId}`,
  ];
}

/** Directory of cgroup `cgPath` on `mount`, or null when the mount does not contain it. */
export function dirOnMount(mount: CgroupMount, cgPath: string): string | null {
  const root = mount.root === '/' ? '' : mount.root.replace(/\/+$/, '');
  if (root !== '' && cgPath !== root && !cgPath.startsWith(`${root}/`)) return null;
  return path.join(mount.mountPoint, cgPath.slice(root.length));
}

export type ContainerCgroup =
  | { version: 1; dirs: Partial<Record<V1Controller, string>> }
  | { version: 2; dir: string };

/**
 * Finds a container's cgroup directories. `procCgroup` is the text of its init process's
 * `/proc/<pid>/cgroup` (null when unreadable). Only directories whose path names the container id
 * are accepted, so a recycled pid cannot make us account another process's cgroup. Returns null when
 * the cgroup cannot be found (the container is gone or not started yet).
 */
export async function findContainerCgroup(
  layout: CgroupLayout,
  containerId: string,
  procCgroup: string | null,
): Promise<ContainerCgroup | null> {
  const fromProc = procCgroup ? parseProcCgroup(procCgroup) : new Map<string, string>();
  const pick = async (mount: CgroupMount, key: string): Promise<string | null> => {
    const own = fromProc.get(key);
    const tries = [...(own !== undefined && own.includes(containerId) ? [own] : []), ...candidateCgroupPaths(containerId)];
    for (const cgPath of tries) {
      const dir = dirOnMount(mount, cgPath);
      if (dir !== null && (await isDirectory(dir))) return dir;
    }
    return null;
  };

  if (layout.version === 2) {
    const dir = await pick(layout.unified, '');
    return dir === null ? null : { version: 2, dir };
  }
  const dirs: Partial<Record<V1Controller, string>> = {};
  for (const [controller, mount] of layout.controllers) {
    const dir = await pick(mount, controller);
    if (dir !== null) dirs[controller] = dir;
  }
  // CPU accounting is the one thing every sample needs; without it the container is not (yet) there.
  return dirs.cpuacct === undefined ? null : { version: 1, dirs };
}

async function isDirectory(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isDirectory();
  } catch {
    return false;
  }
}
