import { describe, expect, it } from 'vitest';
import { ALL_FEATURES, chooseVariant, type FeatureReport } from '@boxwatch/core';
import { ENFORCE_VARIANTS, parsePolicyText, parsePoliciesOrThrow } from '@boxwatch/plugin-enforce';
import { compile } from '../../src/compile.js';

const report = (lsm: 'supported' | 'unsupported'): FeatureReport =>
  Object.fromEntries(ALL_FEATURES.map((f) => [f, { status: f === 'lsm' ? lsm : 'supported', detail: 'test' }])) as FeatureReport;

describe('variant selection', () => {
  it('chooses lsm-deny when the kernel reports BPF LSM, syscall-kill otherwise', () => {
    expect(chooseVariant('enforce', ENFORCE_VARIANTS, report('supported')).variant.name).toBe('lsm-deny');
    const fallback = chooseVariant('enforce', ENFORCE_VARIANTS, report('unsupported'));
    expect(fallback.variant.name).toBe('syscall-kill');
    expect(fallback.skipped).toEqual([{ variant: 'lsm-deny', missing: ['lsm (unsupported: test)'] }]);
  });
});

describe('policy files', () => {
  it('accepts the smallest policy of the issue as written', () => {
    const [p] = parsePoliciesOrThrow(`- policy: no-exec-from-tmp\n  containers: [web-1]          # names, ids or image:… / label:… selectors\n  match:\n    exec:\n      pathPrefixes: [/tmp/]\n  action: kill\n`, 'p.yaml');
    expect(p).toMatchObject({ name: 'no-exec-from-tmp', containers: ['web-1'], exec: { pathPrefixes: ['/tmp/'], writtenFiles: false }, action: 'kill', kill: 'process', dryRun: false, host: false });
  });

  it.each([
    ['- policy: a\n  containers: [x]\n  match:\n    exec:\n      pathPrefixes: [tmp/]\n  action: kill\n', 'p.yaml:5: match.exec.pathPrefixes.0 (policy a): must be an absolute path prefix'],
    ['- policy: a\n  containers: [x]\n  match: { syscalls: [mount] }\n  action: explode\n', 'p.yaml:4: action (policy a): '],
    ['- policy: a\n  containers: [x]\n  match: { syscalls: [mount] }\n  action: kill\n  colour: red\n', 'p.yaml:5: colour (policy a): unknown key'],
    ['- policy: a\n  match: { syscalls: [mount] }\n  action: kill\n', 'p.yaml:1: containers (policy a): select containers'],
    ['- policy: a\n  host: true\n  comms: [sshd, dockerd]\n  match: { syscalls: [ptrace] }\n  action: kill\n', 'p.yaml:3: comms.1 (policy a): dockerd is the agent or the container runtime'],
    ['- policy: a\n  host: true\n  match: { syscalls: [ptrace] }\n  action: kill\n', 'p.yaml:2: host (policy a): host: true needs comms'],
    ['- policy: a\n  containers: [label:nolabel]\n  match: { syscalls: [mount] }\n  action: kill\n', 'p.yaml:2: containers.0 (policy a): a label selector is label:key=value'],
    ['- policy: a\n  containers: [x]\n  match: { connect: [{ address: 10.0.0.300 }] }\n  action: kill\n', 'p.yaml:3: match.connect.0.address (policy a): must be an IPv4 or IPv6 address'],
    ['- policy: a\n  containers: [x\n', 'p.yaml:'],
  ])('refuses %j with file:line: field', (text, message) => {
    const { errors } = parsePolicyText(text, 'p.yaml', 'node');
    expect(errors.length).toBeGreaterThan(0);
    expect(errors[0]!.code).toBe('ERR_CONFIG');
    expect(errors[0]!.message.startsWith(message)).toBe(true);
  });

  it('refuses the agent itself in a host policy', () => {
    const { errors } = parsePolicyText('- policy: a\n  host: true\n  comms: [myagent]\n  match: { syscalls: [ptrace] }\n  action: kill\n', 'p.yaml', 'myagent');
    expect(errors[0]?.message).toMatch(/myagent is the agent/);
  });
});

describe('compile', () => {
  it('folds shorter prefixes into longer ones so the longest match answers for all policies', () => {
    const ps = parsePoliciesOrThrow(
      `- policy: a\n  containers: all\n  match: { exec: { pathPrefixes: [/tmp/] } }\n  action: kill\n- policy: b\n  containers: all\n  match: { exec: { pathPrefixes: [/tmp/x/, /dev/shm/] }, syscalls: [namespaces] }\n  action: audit\n`,
      'p.yaml',
    );
    const c = compile(ps.map((policy, slot) => ({ slot, id: slot + 1, policy })));
    expect(c.execPrefixes).toEqual(new Map([['/tmp/', 1n], ['/tmp/x/', 3n], ['/dev/shm/', 2n]]));
    expect(c.syscalls).toEqual(new Map([[272, 2n], [308, 2n]]));
    expect(c.masks.exec_prefix).toBe(3n);
  });
});
