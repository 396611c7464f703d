/**
 * Enforcement policy files: a YAML sequence of policies, validated with zod, every error naming
 * `file:line: field` (the line of the offending value, found through the YAML node at the issue's
 * path). Parsing is pure; what a policy selects at run time is decided in select.ts and compile.ts.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { LineCounter, parseDocument, isMap, isSeq, type Node } from 'yaml';
import { z } from 'zod';
import { configError, type BoxwatchError } from '@boxwatch/core';
import { SYSCALLS, SYSCALL_NAMES } from './syscalls.js';

/** Path-prefix bytes the kernel matches (EN_PREFIX_MAX): a longer prefix cannot be honoured. */
export const PREFIX_MAX = 64;

const absPrefix = z
  .string()
  .min(1)
  .refine((s) => s.startsWith('/'), { message: 'must be an absolute path prefix (start with /)' })
  .refine((s) => Buffer.byteLength(s) <= PREFIX_MAX, { message: `longer than ${PREFIX_MAX} bytes (the kernel matches at most ${PREFIX_MAX})` });

const selector = z
  .string()
  .min(1)
  .refine((s) => !s.startsWith('label:') || /^label:[^=]+=.*$/.test(s), { message: 'a label selector is label:key=value' })
  .refine((s) => !s.startsWith('image:') || s.length > 6, { message: 'an image selector is image:<reference>' });

const connectRule = z
  .strictObject({
    address: z
      .string()
      .refine((a) => isIP(a) !== 0, { message: 'must be an IPv4 or IPv6 address' })
      .optional(),
    port: z.number().int().min(1).max(65535).optional(),
  })
  .refine((r) => r.address !== undefined || r.port !== undefined, { message: 'give an address, a port or both' });

const PolicySchema = z
  .strictObject({
    policy: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, { message: 'a policy name is 1-63 letters, digits, _ . - (starting with a letter or digit)' }),
    description: z.string().optional(),
    /** Container selectors (names, ids, image:…, label:k=v) or `all`. */
    containers: z.union([z.literal('all'), z.array(selector).min(1)]).optional(),
    /** Act on host processes too; needs `comms`. */
    host: z.boolean().optional(),
    /** Host commands (task comm, ≤ 15 bytes) the policy acts on; required with host: true. */
    comms: z.array(z.string().min(1).max(15)).min(1).optional(),
    match: z
      .strictObject({
        exec: z
          .strictObject({
            pathPrefixes: z.array(absPrefix).min(1).optional(),
            /** Exec of a file the container opened for write/create while the policy was loaded. */
            writtenFiles: z.boolean().optional(),
          })
          .refine((e) => (e.pathPrefixes?.length ?? 0) > 0 || e.writtenFiles === true, { message: 'give pathPrefixes or writtenFiles: true' })
          .optional(),
        open: z.strictObject({ writePrefixes: z.array(absPrefix).min(1) }).optional(),
        syscalls: z
          .array(z.string().refine((s) => s in SYSCALLS, { message: `unknown syscall (known: ${SYSCALL_NAMES.join(', ')})` }))
          .min(1)
          .optional(),
        connect: z.array(connectRule).min(1).optional(),
      })
      .refine((m) => m.exec || m.open || m.syscalls || m.connect, { message: 'give at least one of exec, open, syscalls, connect' }),
    action: z.enum(['audit', 'kill', 'deny']),
    /** What kill signals: the whole process (default) or only the thread that acted. */
    kill: z.enum(['process', 'thread']).optional(),
    dryRun: z.boolean().optional(),
  })
  .superRefine((p, ctx) => {
    if (!p.containers && !p.host) ctx.addIssue({ code: 'custom', path: ['containers'], message: 'select containers (names, ids, image:…, label:k=v or all), or host: true' });
    if (p.host && !p.comms) ctx.addIssue({ code: 'custom', path: ['host'], message: 'host: true needs comms: the host commands the policy may act on' });
    if (p.comms && !p.host) ctx.addIssue({ code: 'custom', path: ['comms'], message: 'comms only applies with host: true' });
  });

export type PolicyInput = z.infer<typeof PolicySchema>;

export interface Policy {
  name: string;
  description?: string;
  /** null: no containers (host only); 'all': every container. */
  containers: readonly string[] | 'all' | null;
  host: boolean;
  comms: readonly string[];
  exec: { pathPrefixes: readonly string[]; writtenFiles: boolean } | null;
  openWritePrefixes: readonly string[];
  syscalls: readonly string[];
  connect: readonly { address?: string; port?: number }[];
  action: 'audit' | 'kill' | 'deny';
  kill: 'process' | 'thread';
  dryRun: boolean;
  /** Where it came from, for errors and the API. */
  source: { file: string; line: number };
}

/** Host commands no policy may act on: the agent's supervisors and the container runtime. */
export const PROTECTED_COMMS: readonly string[] = ['dockerd', 'containerd', 'containerd-shim', 'runc', 'docker-proxy', 'docker-init', 'systemd', 'init'];

function toPolicy(p: PolicyInput, file: string, line: number): Policy {
  return {
    name: p.policy,
    ...(p.description ? { description: p.description } : {}),
    containers: p.containers ?? null,
    host: p.host ?? false,
    comms: p.comms ?? [],
    exec: p.match.exec ? { pathPrefixes: p.match.exec.pathPrefixes ?? [], writtenFiles: p.match.exec.writtenFiles ?? false } : null,
    openWritePrefixes: p.match.open?.writePrefixes ?? [],
    syscalls: p.match.syscalls ?? [],
    connect: p.match.connect ?? [],
    action: p.action,
    kill: p.kill ?? 'process',
    dryRun: p.dryRun ?? false,
    source: { file, line },
  };
}

export interface ParsedPolicies {
  policies: Policy[];
  errors: BoxwatchError[];
}

/**
 * Parse a policy file's text. Every item is checked; `errors` lists each problem with its line.
 * `agentComm` is the agent's own comm (refused in `comms` like the runtime's).
 */
export function parsePolicyText(text: string, file: string, agentComm = ownComm()): ParsedPolicies {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  const lineOf = (node: unknown): number => {
    const n = node as Node | null | undefined;
    return n?.range ? lineCounter.linePos(n.range[0]).line : 1;
  };
  if (doc.errors.length > 0) {
    return { policies: [], errors: doc.errors.map((e) => configError('yaml', e.message.split('\n')[0]!, { file, line: lineCounter.linePos(e.pos[0]).line })) };
  }
  const root = doc.contents;
  if (!isSeq(root)) return { policies: [], errors: [configError('(root)', 'a policy file is a YAML sequence of policies (- policy: name ...)', { file, line: lineOf(root) })] };
  const policies: Policy[] = [];
  const errors: BoxwatchError[] = [];
  const seen = new Map<string, number>();
  const protectedComms = new Set([...PROTECTED_COMMS, agentComm]);
  for (const node of root.items) {
    const line = lineOf(node);
    if (!isMap(node)) {
      errors.push(configError('policy', 'each item must be a mapping with a policy name, a selector, match and action', { file, line }));
      continue;
    }
    const data = node.toJSON() as Record<string, unknown>;
    const name = typeof data.policy === 'string' ? ` (policy ${data.policy})` : '';
    const result = PolicySchema.safeParse(data);
    if (!result.success) {
      for (const issue of result.error.issues) {
        const path = issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0]!] : issue.path;
        const field = path.length ? path.map(String).join('.') : 'policy';
        // The value's line; for an unknown key, the key's own node.
        const at = issue.code === 'unrecognized_keys' ? keyNode(issue.path.length ? node.getIn(issue.path as unknown[], true) : node, issue.keys[0]!) : (node.getIn(path as unknown[], true) as Node | undefined);
        const problem = issue.code === 'unrecognized_keys' ? 'unknown key' : issue.message;
        errors.push(configError(`${field}${name}`, problem, { file, line: at ? lineOf(at) : line }));
      }
      continue;
    }
    const p = result.data;
    const lineAt = (...path: (string | number)[]) => lineOf(node.getIn(path, true)) || line;
    const prev = seen.get(p.policy);
    if (prev !== undefined) {
      errors.push(configError(`policy (policy ${p.policy})`, `duplicate policy name (first at line ${prev})`, { file, line: lineAt('policy') }));
      continue;
    }
    const bad = (p.comms ?? []).findIndex((c) => protectedComms.has(c));
    if (bad >= 0) {
      errors.push(configError(`comms.${bad}${name}`, `${p.comms![bad]} is the agent or the container runtime: no policy may act on it`, { file, line: lineAt('comms', bad) }));
      continue;
    }
    if (p.action === 'deny' && p.kill === 'thread') {
      errors.push(configError(`kill${name}`, 'kill: thread applies to action kill (deny degrades to killing the process where it cannot refuse)', { file, line: lineAt('kill') }));
      continue;
    }
    seen.set(p.policy, line);
    policies.push(toPolicy(p, file, line));
  }
  return { policies, errors };
}

/** The key node of `key` in a YAML mapping (the line an unknown key is reported at). */
function keyNode(map: unknown, key: string): Node | undefined {
  if (!isMap(map)) return undefined;
  const pair = map.items.find((p) => (p.key as { value?: unknown } | null)?.value === key);
  return (pair?.key as Node | undefined) ?? undefined;
}

/** Parse, and throw the first error (with the count of the others) if the file has any. */
export function parsePoliciesOrThrow(text: string, file: string, agentComm?: string): Policy[] {
  const { policies, errors } = parsePolicyText(text, file, agentComm);
  if (errors.length > 0) {
    const first = errors[0]!;
    if (errors.length > 1) first.message += ` (and ${errors.length - 1} more error${errors.length > 2 ? 's' : ''}: ${errors.slice(1).map((e) => e.message).join('; ')})`;
    throw first;
  }
  return policies;
}

/** The agent's own comm as the kernel reports it (the kernel also skips the agent by pid). */
function ownComm(): string {
  try {
    return readFileSync('/proc/self/comm', 'utf8').trim();
  } catch {
    return 'node';
  }
}

/** The kernel's syscall numbers of a policy. */
export function syscallNumbers(p: Policy): number[] {
  return [...new Set(p.syscalls.flatMap((s) => SYSCALLS[s] ?? []))];
}

