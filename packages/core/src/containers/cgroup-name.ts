/**
 * Container ids from cgroup names. Runtimes name a container's cgroup `<64hex>` (docker with the
 * cgroupfs driver), `docker-<64hex>.scope` (systemd driver), `cri-containerd-<64hex>.scope`,
 * `crio-<64hex>.scope` or `libpod-<64hex>.scope`. Also accepts full paths (`/docker/<64hex>`, `/system.slice/docker-….scope`).
 */
const CONTAINER_CGROUP = /(?:^|[/-])([0-9a-f]{64})(?:\.scope)?$/;

export function containerIdFromCgroupName(name: string): string | null {
  const m = CONTAINER_CGROUP.exec(name.trim());
  return m ? (m[1] as string) : null;
}

/** The runtime that named the cgroup, when the name says so. */
export function runtimeFromCgroupName(name: string): string | undefined {
  if (/(?:^|\/)docker[-/]/.test(name)) return 'docker';
  if (name.includes('cri-containerd-')) return 'containerd';
  if (name.includes('libpod-')) return 'podman';
  if (name.includes('crio-')) return 'cri-o';
  return undefined;
}
