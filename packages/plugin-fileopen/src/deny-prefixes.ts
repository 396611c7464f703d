import { configError } from '@boxwatch/core';
import { deny_prefix_key as K } from './generated/layout.js';

/** Bytes of a path the kernel compares against the deny list (FO_PREFIX_MAX). */
export const PREFIX_MAX = K.sizes.data;

/** Values of the deny_prefixes LPM trie (FO_DENY_* / FO_ALLOW in bpf/fileopen.h). */
export const DENY_READS = 0x1;
export const DENY_WRITES = 0x2;
export const ALLOW = 0x4;

/**
 * One entry of the deny list. A plain string drops every open of a path starting with it. The
 * object form chooses: `reads` drops read-only opens, `writes` drops opens that can modify
 * (write access, O_CREAT, O_TRUNC); `allow: true` re-allows a longer prefix under a denied one
 * (the longest matching prefix decides). Matching is on bytes: write `/lib/`, not `/lib`, unless
 * `/library` should match too.
 */
export type DenyPrefix = string | { prefix: string; reads?: boolean; writes?: boolean; allow?: boolean };

export interface DenyRule {
  prefix: string;
  action: number;
}

/**
 * Default: read-only opens of shared libraries, the loader cache, locale and timezone data. Every
 * dynamically linked program opens these on start, so a busy container would flood the ring
 * with them, and reading them tells a security user nothing. Writes to the same places (a dropped
 * .so, an ld.so.cache edit) are still reported.
 */
export const DEFAULT_DENY_PREFIXES: readonly DenyPrefix[] = Object.freeze([
  { prefix: '/lib/', reads: true },
  { prefix: '/lib64/', reads: true },
  { prefix: '/lib32/', reads: true },
  { prefix: '/usr/lib/', reads: true },
  { prefix: '/usr/lib64/', reads: true },
  { prefix: '/usr/lib32/', reads: true },
  { prefix: '/usr/local/lib/', reads: true },
  { prefix: '/etc/ld.so.cache', reads: true },
  { prefix: '/usr/share/locale/', reads: true },
  { prefix: '/usr/share/zoneinfo/', reads: true },
]);

/** Validate and normalise a deny list; `field` names it in errors. */
export function parseDenyPrefixes(list: unknown, field = 'denyPrefixes'): DenyRule[] {
  if (!Array.isArray(list)) throw configError(field, 'must be an array of path prefixes');
  const out = new Map<string, number>();
  list.forEach((entry: unknown, i) => {
    const where = `${field}[${i}]`;
    let prefix: unknown;
    let action: number;
    if (typeof entry === 'string') {
      prefix = entry;
      action = DENY_READS | DENY_WRITES;
    } else if (entry !== null && typeof entry === 'object') {
      const e = entry as Record<string, unknown>;
      for (const k of Object.keys(e)) if (!['prefix', 'reads', 'writes', 'allow'].includes(k)) throw configError(`${where}.${k}`, 'unknown key (expected prefix, reads, writes, allow)');
      for (const k of ['reads', 'writes', 'allow'] as const) if (e[k] !== undefined && typeof e[k] !== 'boolean') throw configError(`${where}.${k}`, 'must be a boolean');
      prefix = e.prefix;
      if (e.allow) {
        if (e.reads || e.writes) throw configError(where, 'an allow entry cannot also deny reads or writes');
        action = ALLOW;
      } else {
        // Naming neither means both.
        const reads = e.reads ?? e.writes === undefined;
        const writes = e.writes ?? e.reads === undefined;
        action = (reads ? DENY_READS : 0) | (writes ? DENY_WRITES : 0);
        if (action === 0) throw configError(where, 'denies nothing (reads and writes are both false)');
      }
    } else {
      throw configError(where, 'must be a string or { prefix, reads?, writes?, allow? }');
    }
    if (typeof prefix !== 'string' || prefix.length === 0) throw configError(`${where}.prefix`, 'must be a non-empty string');
    if (!prefix.startsWith('/')) throw configError(`${where}.prefix`, `must be absolute (start with /): ${JSON.stringify(prefix)}`);
    if (Buffer.byteLength(prefix) > PREFIX_MAX) throw configError(`${where}.prefix`, `longer than the ${PREFIX_MAX} bytes the kernel matches: ${JSON.stringify(prefix)}`);
    if (prefix.includes('\0')) throw configError(`${where}.prefix`, 'contains a NUL byte');
    // The same prefix twice: the later entry wins, as when a user appends to the defaults.
    out.set(prefix, action);
  });
  return [...out].map(([prefix, action]) => ({ prefix, action }));
}

/** LPM trie key bytes of a prefix. */
export function prefixKey(prefix: string): { prefixlen: number; data: Buffer } {
  const bytes = Buffer.from(prefix);
  const data = Buffer.alloc(PREFIX_MAX);
  bytes.copy(data);
  return { prefixlen: bytes.length * 8, data };
}

/**
 * The deny_hint bitmap (struct deny_hint in bpf/fileopen.h) for a set of prefixes: bit c when a
 * prefix's second byte is c, every bit for the prefix "/". The kernel skips the LPM lookup for a
 * path whose second byte has no bit; no prefix can match such a path.
 */
export function denyHint(prefixes: Iterable<string>): Buffer {
  const bits = Buffer.alloc(32);
  for (const prefix of prefixes) {
    const bytes = Buffer.from(prefix);
    if (bytes.length < 2) {
      bits.fill(0xff);
      break;
    }
    const c = bytes[1]!;
    bits[c >> 3]! |= 1 << (c & 7);
  }
  return bits;
}

/** Whether the kernel's hint lets `path` reach the LPM lookup (the same test as denied() in the BPF program). */
export function passesDenyHint(hint: Buffer, path: string): boolean {
  const c = Buffer.from(path)[1] ?? 0;
  return (hint[c >> 3]! & (1 << (c & 7))) !== 0;
}

/**
 * The action the kernel takes for `path` opened read-only or writing, computed the way the
 * kernel does (longest prefix of the first PREFIX_MAX bytes). Used by tests and `explain` tools.
 */
export function deniedByRules(rules: readonly DenyRule[], path: string, write: boolean): boolean {
  const head = Buffer.from(path).subarray(0, PREFIX_MAX);
  let best: DenyRule | undefined;
  for (const r of rules) {
    const p = Buffer.from(r.prefix);
    if (p.length <= head.length && head.subarray(0, p.length).equals(p) && (!best || p.length > Buffer.byteLength(best.prefix))) best = r;
  }
  if (!best) return false;
  return (best.action & (write ? DENY_WRITES : DENY_READS)) !== 0;
}
