import type { ContainerDetails, ContainerResolver, KnownContainer } from '../plugin.js';

type Known = { info: KnownContainer; cgroupId?: bigint; pid?: number; ip?: string };
type Change = { kind: 'start' | 'stop'; container: KnownContainer };

export interface FixedResolver extends ContainerResolver {
  /** Announce a start or stop to the plugin's onChange listeners. */
  emitChange(change: Change): void;
}

/**
 * A resolver that knows only the containers a test started (so other containers on the same
 * dockerd never match). `containers` is read on every call: tests may add to it later.
 */
export function fixedResolver(containers: () => readonly Known[]): FixedResolver {
  const listeners = new Set<(c: Change) => void>();
  const match = (ref: string) => containers().find((c) => c.info.id === ref || c.info.name === ref || (ref.length >= 12 && c.info.id.startsWith(ref)));
  return {
    byCgroupId: (id) => containers().find((c) => c.cgroupId === id)?.info ?? null,
    find: (ref) => match(ref)?.info ?? null,
    list: () => containers().map((c) => c.info),
    details: (ref): ContainerDetails | null => {
      const c = match(ref);
      return c ? { info: c.info, pid: c.pid ?? 0, ips: c.ip ? [c.ip] : [], cgroupId: c.cgroupId ?? null, running: true } : null;
    },
    byIp: (ip) => containers().find((c) => c.ip === ip)?.info ?? null,
    cgroupIdOf: (id) => match(id)?.cgroupId ?? null,
    onChange(listener) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
    emitChange(change) {
      for (const l of listeners) l(change);
    },
  };
}
