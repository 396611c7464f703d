/**
 * Banned-pair rules: validation and the expansion of rules into the kernel's address pairs.
 *
 * A rule names two endpoints, each an IP address or a container (id or name). Traffic between
 * any address of one and any address of the other, in either direction, is reported. The kernel
 * map holds ordered (local, remote) pairs, so every unordered pair is installed in both orders.
 */
import { configError } from '@boxwatch/core';
import { canonicalAddress } from './address.js';

export type EndpointInput = string | { ip: string } | { container: string };

export interface BannedPairInput {
  /** Stable name for the rule (reported as `rule` in net.banned). Generated when omitted. */
  id?: string;
  a: EndpointInput;
  b: EndpointInput;
  description?: string;
}

export type Endpoint = { kind: 'ip'; ip: string } | { kind: 'container'; container: string };

export interface BannedPairRule {
  id: string;
  /** Kernel-side rule number (the cnetwork_banned map value). */
  number: number;
  a: Endpoint;
  b: Endpoint;
  description?: string;
}

/** What listRules() shows: the rule and the addresses its endpoints resolve to right now. */
export interface RuleView {
  id: string;
  a: Endpoint;
  b: Endpoint;
  description?: string;
  addresses: { a: string[]; b: string[] };
}

const RULE_ID = /^[A-Za-z0-9_.:-]{1,64}$/;

/** A plain string is an IP address; containers are given as `{ container: "name-or-id" }`. */
export function parseEndpoint(input: unknown, field: string): Endpoint {
  if (typeof input === 'string') return { kind: 'ip', ip: parseIp(input, field) };
  if (input && typeof input === 'object') {
    const o = input as Record<string, unknown>;
    const keys = Object.keys(o);
    if (keys.length === 1 && typeof o.ip === 'string') return { kind: 'ip', ip: parseIp(o.ip, `${field}.ip`) };
    if (keys.length === 1 && typeof o.container === 'string') {
      const c = o.container.trim().replace(/^\//, '');
      if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(c)) throw configError(`${field}.container`, `'${o.container}' is not a container id or name`);
      return { kind: 'container', container: c };
    }
  }
  throw configError(field, `expected an IP address string, {ip: "..."} or {container: "id-or-name"}, got ${JSON.stringify(input)}`);
}

function parseIp(text: string, field: string): string {
  const c = canonicalAddress(text);
  if (!c) throw configError(field, `'${text}' is not an IPv4 or IPv6 address`);
  if (c === '::' || c === '0.0.0.0') throw configError(field, `'${text}' is the unspecified address, which no connected socket has`);
  return c;
}

/** Validate a rule given by a user (config file or control API). */
export function parseRule(input: unknown, field = 'rule'): { id?: string; a: Endpoint; b: Endpoint; description?: string } {
  if (!input || typeof input !== 'object' || Array.isArray(input)) throw configError(field, 'expected an object {a, b, id?, description?}');
  const o = input as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!['id', 'a', 'b', 'description'].includes(k)) throw configError(`${field}.${k}`, 'unknown field (allowed: id, a, b, description)');
  if (o.id !== undefined && (typeof o.id !== 'string' || !RULE_ID.test(o.id))) throw configError(`${field}.id`, 'must be 1-64 characters of A-Z a-z 0-9 _ . : -');
  if (o.description !== undefined && typeof o.description !== 'string') throw configError(`${field}.description`, 'must be a string');
  const a = parseEndpoint(o.a, `${field}.a`);
  const b = parseEndpoint(o.b, `${field}.b`);
  if (a.kind === 'ip' && b.kind === 'ip' && a.ip === b.ip) throw configError(field, 'a and b are the same address');
  return { id: o.id as string | undefined, a, b, description: o.description as string | undefined };
}

/**
 * Desired contents of the kernel map: "local|remote" → rule number, both orders of each pair.
 * When rules overlap the rule added first (lowest number) wins.
 */
export function expandPairs(rules: Iterable<BannedPairRule>, addressesOf: (e: Endpoint) => string[]): Map<string, number> {
  const out = new Map<string, number>();
  const sorted = [...rules].sort((x, y) => x.number - y.number);
  for (const r of sorted) {
    const as = addressesOf(r.a);
    const bs = addressesOf(r.b);
    for (const a of as) {
      for (const b of bs) {
        if (a === b) continue;
        for (const key of [`${a}|${b}`, `${b}|${a}`]) if (!out.has(key)) out.set(key, r.number);
      }
    }
  }
  return out;
}

/**
 * Entries of cnetwork_netns_banned: a socket bound to the wildcard address has no local address to
 * look a pair up with, so each pair whose local address belongs to a running container is also
 * installed as (that container's network namespace, remote) → (rule, local address). At most as
 * many entries as pairs; the rule added first wins, as for the pairs.
 */
export function expandNetnsPairs(pairs: Map<string, number>, netnsOf: (address: string) => number | null): Map<string, string> {
  const out = new Map<string, string>();
  const sorted = [...pairs].sort((x, y) => x[1] - y[1]);
  for (const [pair, number] of sorted) {
    const [local, remote] = pair.split('|') as [string, string];
    const netns = netnsOf(local);
    if (netns === null) continue;
    const key = `${netns}|${remote}`;
    if (!out.has(key)) out.set(key, `${number}|${local}`);
  }
  return out;
}
