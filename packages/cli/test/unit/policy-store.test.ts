import { describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isBoxwatchError, silentLogger } from '@boxwatch/core';
import { EnforcePlugin, parsePoliciesOrThrow, type Policy } from '@boxwatch/plugin-enforce';
import { EnforcePolicyService, POLICY_STORE_FILE, PolicyStore, policyToInput } from '../../src/runtime/enforce-policies.js';

const dir = () => mkdtempSync(join(tmpdir(), 'bwtest-cli-policies-'));
const parse = (text: string) => parsePoliciesOrThrow(text, 'request');
const withoutSource = (ps: Policy[]) => ps.map(({ source: _s, ...p }) => p);

const EVERY_FIELD = `
- policy: every-field
  description: "all of it: quoted, # not a comment"
  containers: [web-1, "image:busybox:1.36", "label:tier=db"]
  match:
    exec: { pathPrefixes: [/tmp/, /dev/shm/], writtenFiles: true }
    open: { writePrefixes: [/etc/] }
    syscalls: [mount, namespaces]
    connect: [{ address: "10.0.0.1", port: 4444 }, { port: 22 }, { address: "fd00::1" }]
  action: kill
  kill: thread
  dryRun: true
- policy: host-one
  host: true
  comms: [bash]
  match: { syscalls: [bpf] }
  action: audit
- policy: all-deny
  containers: all
  match: { exec: { writtenFiles: true } }
  action: deny
`;

function loadError(file: string) {
  try {
    PolicyStore.load(file);
  } catch (err) {
    if (isBoxwatchError(err, 'ERR_CONFIG')) return err;
    throw err;
  }
  throw new Error('expected ERR_CONFIG');
}

describe('enforcement policy store', () => {
  it('writes policies in the policy file form and reads back the same policies', () => {
    const policies = parse(EVERY_FIELD);
    const file = join(dir(), 'state', POLICY_STORE_FILE);
    const store = PolicyStore.load(file);
    expect(store.size).toBe(0);
    expect(() => statSync(file)).toThrow(); // nothing written until a change
    store.add(policies.slice(0, 2));
    store.add(policies.slice(2));
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readdirSync(join(file, '..'))).toEqual([POLICY_STORE_FILE]); // no temp file left
    const again = PolicyStore.load(file);
    expect(withoutSource(again.list())).toEqual(withoutSource(policies));
    // Restored policies name the store file and their line in it.
    expect(again.list()[1]!.source).toEqual({ file, line: readFileSync(file, 'utf8').split('\n').findIndex((l) => l.includes('policy: host-one')) + 1 });
    // The file form is exactly what a policy file holds.
    expect(withoutSource(parse(readFileSync(file, 'utf8')))).toEqual(withoutSource(policies));
    expect(policyToInput(policies[2]!)).toEqual({ policy: 'all-deny', containers: 'all', match: { exec: { writtenFiles: true } }, action: 'deny' });
  });

  it('removes policies, and an emptied store reads as empty', () => {
    const file = join(dir(), POLICY_STORE_FILE);
    const store = PolicyStore.load(file);
    store.add(parse(EVERY_FIELD));
    expect(store.remove('nope')).toBe(false);
    expect(store.remove('host-one')).toBe(true);
    expect(PolicyStore.load(file).list().map((p) => p.name)).toEqual(['every-field', 'all-deny']);
    store.remove('every-field');
    store.remove('all-deny');
    expect(readFileSync(file, 'utf8')).toMatch(/^#/);
    expect(PolicyStore.load(file).size).toBe(0);
  });

  it('replaces a saved policy of the same name instead of duplicating it', () => {
    const file = join(dir(), POLICY_STORE_FILE);
    const store = PolicyStore.load(file);
    store.add(parse('- {policy: a, containers: all, match: {syscalls: [bpf]}, action: audit}\n- {policy: b, containers: all, match: {syscalls: [mount]}, action: audit}'));
    store.add(parse('- {policy: a, containers: all, match: {syscalls: [bpf]}, action: kill}'));
    const names = PolicyStore.load(file).list().map((p) => `${p.name}:${p.action}`);
    expect(names).toEqual(['b:audit', 'a:kill']);
  });

  it('a corrupt store is refused naming the file, line and field, and left as it is', () => {
    const file = join(dir(), POLICY_STORE_FILE);
    const text = '# saved\n- policy: ok\n  containers: all\n  match: { syscalls: [bpf] }\n  action: audit\n- policy: bad\n  containers: all\n  match:\n    exec:\n      pathPrefixes: [tmp/]\n  action: kill\n';
    writeFileSync(file, text, { mode: 0o600 });
    const err = loadError(file);
    expect(err.message).toMatch(new RegExp(`^${file.replace(/[.]/g, '\\.')}:10: match\\.exec\\.pathPrefixes\\.0 \\(policy bad\\): must be an absolute path prefix`));
    expect(err.message).toContain('fix or move the file away; it is left as it is');
    expect(err).toMatchObject({ file, line: 10, field: 'match.exec.pathPrefixes.0 (policy bad)' });
    expect(readFileSync(file, 'utf8')).toBe(text);

    writeFileSync(file, '- policy: x\n  containers: [\n');
    expect(loadError(file).message).toMatch(new RegExp(`^${file.replace(/[.]/g, '\\.')}:\\d+: yaml`));
    writeFileSync(file, 'policies: {}\n');
    expect(loadError(file).message).toContain(`${file}:1: (root)`);
  });

  it('a store it cannot read is refused naming the file', () => {
    // Root reads through file modes: a directory where the file should be cannot be read either.
    const file = join(dir(), POLICY_STORE_FILE);
    mkdirSync(file);
    const err = loadError(file);
    expect(err.message).toMatch(new RegExp(`^${file.replace(/[.]/g, '\\.')}: cannot read the saved enforcement policies: .*EISDIR`));
    expect(err.file).toBe(file);
  });
});

describe('enforcement policy service', () => {
  const store = () => PolicyStore.load(join(dir(), POLICY_STORE_FILE));

  it('adds to the plugin and the store, marks origins, and removes from both', () => {
    const s = store();
    const service = new EnforcePolicyService(s, silentLogger);
    const plugin = new EnforcePlugin({ policies: service.startPolicies(parse('- {policy: from-file, containers: all, match: {syscalls: [bpf]}, action: audit}')) });
    service.add(plugin, parse('- {policy: via-api, containers: [web], match: {syscalls: [mount]}, action: kill}'));
    expect(service.list(plugin).map((p) => `${p.name}:${p.origin}`)).toEqual(['from-file:file', 'via-api:api']);
    expect(PolicyStore.load(s.file).list().map((p) => p.name)).toEqual(['via-api']);
    // A name in force is refused by the plugin; nothing is saved.
    expect(() => service.add(plugin, parse('- {policy: from-file, containers: all, match: {syscalls: [bpf]}, action: kill}'))).toThrow(/already loaded/);
    expect(PolicyStore.load(s.file).list().map((p) => p.name)).toEqual(['via-api']);

    expect(service.remove(plugin, 'via-api')).toEqual({ removed: 'via-api', origin: 'api' });
    expect(PolicyStore.load(s.file).size).toBe(0);
    expect(service.remove(plugin, 'from-file')).toEqual({ removed: 'from-file', origin: 'file' });
    expect(service.remove(plugin, 'from-file')).toBeNull();
    expect(plugin.policies()).toEqual([]);
  });

  it('restores saved policies after the files, keeping a clashing one saved but not loaded', () => {
    const s = store();
    s.add(parse('- {policy: clash, containers: all, match: {syscalls: [bpf]}, action: kill}\n- {policy: saved, containers: all, match: {syscalls: [mount]}, action: kill}'));
    const service = new EnforcePolicyService(PolicyStore.load(s.file), silentLogger);
    const start = service.startPolicies(parse('- {policy: clash, containers: all, match: {syscalls: [ptrace]}, action: audit}'));
    expect(start.map((p) => `${p.name}:${p.action}`)).toEqual(['clash:audit', 'saved:kill']);
    const plugin = new EnforcePlugin({ policies: start });
    expect(service.list(plugin).map((p) => p.origin)).toEqual(['file', 'api']);
    // Deleting the file's policy leaves the saved one of that name in the store.
    service.remove(plugin, 'clash');
    expect(PolicyStore.load(s.file).list().map((p) => p.name)).toEqual(['clash', 'saved']);
  });

  it('a failed write takes the added policies out of the plugin again', () => {
    const d = dir();
    const file = join(d, 'sub', POLICY_STORE_FILE);
    writeFileSync(join(d, 'sub'), 'a file where the directory should be');
    const service = new EnforcePolicyService(PolicyStore.load(file), silentLogger);
    const plugin = new EnforcePlugin();
    let err: unknown;
    try {
      service.add(plugin, parse('- {policy: p, containers: all, match: {syscalls: [bpf]}, action: kill}'));
    } catch (e) {
      err = e;
    }
    expect(isBoxwatchError(err, 'ERR_STATE')).toBe(true);
    expect((err as Error).message).toContain(`cannot save the policies to ${file}`);
    expect(plugin.policies()).toEqual([]);
  });
});
