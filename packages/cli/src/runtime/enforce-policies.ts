/**
 * Enforcement policies as the agent manages them: policies from the policy files given at start
 * (`enforce.policies`, `--policy`; the files are their source of truth) and policies added through
 * the control API, which are persisted in `<stateDir>/enforce-policies.yaml` and put back into the
 * plugin at the next start, before it loads, so they are in force when the first container is
 * selected. Every listed policy says where it came from: `origin: "file" | "api"`.
 *
 * The store is itself a policy file (the format `--policy` reads): a corrupt one is refused whole
 * with `file:line: field (policy x): problem`, exactly as a bad policy file is, and is never
 * overwritten. Every change rewrites it atomically (temp file, fsync, rename, directory fsync;
 * mode 0600), like cnetwork's API rules. A policy is in the store exactly when the API answered
 * that it was added: a failed write takes the policies out of the kernel again.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { BoxwatchError, isBoxwatchError, type Logger } from '@boxwatch/core';
import { parsePoliciesOrThrow, type EnforcePlugin, type Policy } from '@boxwatch/plugin-enforce';
import type { BoxwatchConfig } from '../config/schema.js';
import { writeFileAtomic } from './state-file.js';

export const POLICY_STORE_FILE = 'enforce-policies.yaml';
/** Plugin limit (MAX_POLICIES in plugin-enforce). */
const MAX_POLICIES = 64;

export type PolicyOrigin = 'file' | 'api';
export type ListedPolicy = Policy & { origin: PolicyOrigin };

const HEADER = `# Enforcement policies added through boxwatch's control API (POST /v1/enforce/policies).
# Written by boxwatch on every change and restored at start; the policies of --policy files are not here.
# Remove a policy with DELETE /v1/enforce/policies/<name>.
`;

export function policyStorePath(config: BoxwatchConfig): string {
  return join(config.stateDir, POLICY_STORE_FILE);
}

/** A policy in the policy file's form (what parsePolicyText reads back into the same Policy). */
export function policyToInput(p: Policy): Record<string, unknown> {
  const match: Record<string, unknown> = {};
  if (p.exec) match.exec = { ...(p.exec.pathPrefixes.length ? { pathPrefixes: [...p.exec.pathPrefixes] } : {}), ...(p.exec.writtenFiles ? { writtenFiles: true } : {}) };
  if (p.openWritePrefixes.length) match.open = { writePrefixes: [...p.openWritePrefixes] };
  if (p.syscalls.length) match.syscalls = [...p.syscalls];
  if (p.connect.length) match.connect = p.connect.map((c) => ({ ...(c.address !== undefined ? { address: c.address } : {}), ...(c.port !== undefined ? { port: c.port } : {}) }));
  return {
    policy: p.name,
    ...(p.description !== undefined ? { description: p.description } : {}),
    ...(p.containers !== null ? { containers: p.containers === 'all' ? 'all' : [...p.containers] } : {}),
    ...(p.host ? { host: true, comms: [...p.comms] } : {}),
    match,
    action: p.action,
    ...(p.kill !== 'process' ? { kill: p.kill } : {}),
    ...(p.dryRun ? { dryRun: true } : {}),
  };
}

export class PolicyStore {
  private policies: Policy[];

  private constructor(
    readonly file: string,
    policies: Policy[],
  ) {
    this.policies = policies;
  }

  /**
   * Load the store (an absent file is an empty store). A file that cannot be read, or holds any
   * problem, is an ERR_CONFIG naming the file (and its line and field).
   */
  static load(file: string): PolicyStore {
    if (!existsSync(file)) return new PolicyStore(file, []);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new BoxwatchError('ERR_CONFIG', `${file}: cannot read the saved enforcement policies: ${(err as Error).message}`, { file, field: '(file)', cause: err });
    }
    // Comments only: what the store writes when its last policy was removed.
    if (/^(\s*#.*\n?)*\s*$/.test(text)) return new PolicyStore(file, []);
    try {
      return new PolicyStore(file, parsePoliciesOrThrow(text, file));
    } catch (err) {
      if (isBoxwatchError(err, 'ERR_CONFIG')) err.message += ' (saved enforcement policies: fix or move the file away; it is left as it is)';
      throw err;
    }
  }

  list(): Policy[] {
    return [...this.policies];
  }

  has(name: string): boolean {
    return this.policies.some((p) => p.name === name);
  }

  get size(): number {
    return this.policies.length;
  }

  /** Append (or replace by name) policies and write the file; on a write error the store is unchanged and the error is thrown. */
  add(policies: readonly Policy[]): void {
    // A saved policy the plugin did not load (a policy file had its name) is replaced, never duplicated.
    const names = new Set(policies.map((p) => p.name));
    this.commit([...this.policies.filter((p) => !names.has(p.name)), ...policies]);
  }

  /** Remove a policy and write the file; false when there is none. On a write error the store is unchanged. */
  remove(name: string): boolean {
    if (!this.has(name)) return false;
    this.commit(this.policies.filter((p) => p.name !== name));
    return true;
  }

  private commit(next: Policy[]): void {
    writeFileAtomic(this.file, next.length ? HEADER + stringify(next.map(policyToInput)) : HEADER);
    this.policies = next;
  }
}

export class EnforcePolicyService {
  /** Names of the policies this service put into the plugin from the store or the API. */
  private readonly fromApi = new Set<string>();

  /** `store` null: API policies live in memory only (a control API used without a state directory). */
  constructor(
    readonly store: PolicyStore | null,
    private readonly logger: Logger,
  ) {}

  /**
   * Load `<stateDir>/enforce-policies.yaml` unless enforcement is turned off (`enforce.enabled:
   * false`). Call before anything loads: a corrupt store stops the start.
   */
  static open(config: BoxwatchConfig, logger: Logger): EnforcePolicyService | null {
    if (config.enforce.enabled === false) return null;
    return new EnforcePolicyService(PolicyStore.load(policyStorePath(config)), logger);
  }

  /** Saved API policies exist (they turn enforcement on by themselves). */
  get saved(): number {
    return this.store?.size ?? 0;
  }

  /**
   * The policies to start the plugin with: the files' policies, then the saved ones. A saved
   * policy whose name a file's policy has, or beyond the 64-policy limit, stays in the store and
   * is logged; it is not lost.
   */
  startPolicies(fromFiles: readonly Policy[]): Policy[] {
    const all = [...fromFiles];
    if (!this.store) return all;
    const names = new Set(all.map((p) => p.name));
    const skipped: string[] = [];
    for (const p of this.store.list()) {
      if (names.has(p.name)) {
        skipped.push(p.name);
        this.logger.error({ file: this.store.file, policy: p.name }, 'saved enforcement policy not loaded: a policy file has a policy of the same name (it stays saved; rename one)');
      } else if (all.length >= MAX_POLICIES) {
        skipped.push(p.name);
        this.logger.error({ file: this.store.file, policy: p.name, max: MAX_POLICIES }, 'saved enforcement policy not loaded: the policy limit is reached (it stays saved)');
      } else {
        all.push(p);
        names.add(p.name);
        this.fromApi.add(p.name);
      }
    }
    if (this.store.size > 0) this.logger.info({ file: this.store.file, restored: this.fromApi.size, skipped }, 'saved enforcement policies restored');
    return all;
  }

  originOf(name: string): PolicyOrigin {
    return this.fromApi.has(name) ? 'api' : 'file';
  }

  list(plugin: EnforcePlugin): ListedPolicy[] {
    return plugin.policies().map((p) => ({ ...p, origin: this.originOf(p.name) }));
  }

  /**
   * Add policies through the API (all or none): into the plugin (ERR_CONFIG as addPolicies
   * throws it), then the store; a failed write removes them from the plugin again (ERR_STATE).
   * Synchronous, so two requests cannot interleave between the plugin and the store.
   */
  add(plugin: EnforcePlugin, policies: readonly Policy[]): void {
    plugin.addPolicies(policies);
    if (this.store) {
      try {
        this.store.add(policies);
      } catch (err) {
        for (const p of policies) plugin.removePolicy(p.name);
        throw new BoxwatchError('ERR_STATE', `cannot save the policies to ${this.store.file}: ${(err as Error).message}; they were not added`, { file: this.store.file, cause: err });
      }
    }
    for (const p of policies) this.fromApi.add(p.name);
  }

  /**
   * Remove a policy by name: an API policy leaves the store first (a failed write changes nothing),
   * then the kernel. A policy file's policy is removed until the next start. Null when none has the name.
   */
  remove(plugin: EnforcePlugin, name: string): { removed: string; origin: PolicyOrigin } | null {
    if (!plugin.policies().some((p) => p.name === name)) return null;
    const origin = this.originOf(name);
    if (origin === 'api' && this.store?.has(name)) this.store.remove(name);
    plugin.removePolicy(name);
    this.fromApi.delete(name);
    return { removed: name, origin };
  }
}
