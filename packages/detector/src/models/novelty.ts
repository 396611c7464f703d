/**
 * Novelty sets: what an image's containers do during learning (executables run, directories written,
 * ports listened on, destinations and peer containers contacted). After learning, anything outside the
 * sets raises an anomaly. Sets are capped so a noisy image cannot grow its profile without bound.
 */
import type { IEvent } from '@boxwatch/core';
import type { Phase, Report } from './types.js';
import type { Priority } from '../rules/loader.js';

export const NOVELTY_KINDS = ['exec', 'write', 'listen', 'connect', 'peer'] as const;
export type NoveltyKind = (typeof NOVELTY_KINDS)[number];

export interface NoveltyProfile {
  sets: Record<NoveltyKind, Set<string>>;
}

export interface NoveltyJSON {
  sets: Record<NoveltyKind, string[]>;
}

const MAX_ITEMS = 10_000;
/** Directory depth kept for written paths: /var/lib/app/x/y.db → /var/lib/app. */
const WRITE_PREFIX_DEPTH = 3;

const DESCRIBE: Record<NoveltyKind, { what: string; priority: Priority; tags: string[] }> = {
  exec: { what: 'new executable', priority: 'warning', tags: ['process', 'drift'] },
  write: { what: 'new (process, directory) written', priority: 'notice', tags: ['filesystem'] },
  listen: { what: 'new listening port', priority: 'warning', tags: ['network'] },
  connect: { what: 'new outbound destination', priority: 'notice', tags: ['network'] },
  peer: { what: 'new peer container', priority: 'warning', tags: ['network', 'lateral_movement'] },
};

export function newNoveltyProfile(): NoveltyProfile {
  return { sets: { exec: new Set(), write: new Set(), listen: new Set(), connect: new Set(), peer: new Set() } };
}

export function noveltyToJSON(p: NoveltyProfile): NoveltyJSON {
  const sets = {} as Record<NoveltyKind, string[]>;
  for (const k of NOVELTY_KINDS) sets[k] = [...p.sets[k]].sort();
  return { sets };
}

export function noveltyFromJSON(j: NoveltyJSON): NoveltyProfile {
  const p = newNoveltyProfile();
  for (const k of NOVELTY_KINDS) for (const v of j.sets?.[k] ?? []) p.sets[k].add(v);
  return p;
}

export function pathPrefix(path: string, depth = WRITE_PREFIX_DEPTH): string {
  const parts = path.split('/').filter(Boolean);
  // The last component is the file itself: keep directories only.
  const dirs = parts.slice(0, Math.min(depth, Math.max(0, parts.length - 1)));
  return '/' + dirs.join('/');
}

/** The (kind, value) pairs an event contributes, or none. */
function itemsOf(event: IEvent, out: [NoveltyKind, string][]): void {
  const e = event as unknown as Record<string, unknown>;
  switch (event.type) {
    case 'process.exec':
    case 'syscall.execve':
    case 'syscall.execveat':
      if (typeof e.ret === 'number' && e.ret < 0) return;
      if (typeof e.filename === 'string') out.push(['exec', e.filename]);
      return;
    case 'file.open': {
      const f = e.flags as { write?: boolean; create?: boolean } | undefined;
      if (f && (f.write || f.create) && typeof e.path === 'string' && (typeof e.ret !== 'number' || e.ret >= 0)) {
        out.push(['write', `${event.comm}:${pathPrefix(e.path)}`]);
      }
      return;
    }
    case 'net.listen':
      out.push(['listen', `${String(e.proto)}:${String(e.port)}`]);
      return;
    case 'net.connect': {
      out.push(['connect', `${String(e.daddr)}:${String(e.dport)}`]);
      const peer = e.peer_container as { id?: string; name?: string } | null | undefined;
      if (peer) out.push(['peer', peer.name ?? peer.id ?? '?']);
      return;
    }
    default:
      return;
  }
}

const scratch: [NoveltyKind, string][] = [];

export function observeNovelty(profile: NoveltyProfile, event: IEvent, phase: Phase, report: Report): void {
  scratch.length = 0;
  itemsOf(event, scratch);
  for (const [kind, value] of scratch) {
    const set = profile.sets[kind];
    if (phase !== 'detecting') {
      if (set.size < MAX_ITEMS) set.add(value);
      continue;
    }
    if (set.has(value)) continue;
    const d = DESCRIBE[kind];
    report({
      model: 'novelty',
      key: `${kind}:${value}`,
      message: `${d.what} for image: ${value}`,
      priority: d.priority,
      tags: ['model', 'novelty', ...d.tags],
      event,
      details: { kind, value },
    });
  }
}
