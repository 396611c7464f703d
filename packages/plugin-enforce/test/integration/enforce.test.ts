/**
 * Enforcement on the real kernel with `docker run --rm` containers that act at once: the policy is
 * loaded before the container exists, so the container is selected in the kernel from the name the
 * runtime announced (create event → en_pending → cgroup_mkdir), not by a later userspace scan.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePoliciesOrThrow } from '@boxwatch/plugin-enforce';
import { outFile, run, startRig, testContainerName, waitFor, type Rig } from '../harness.js';

const A = testContainerName('bwtest-enforce-a');
const B = testContainerName('bwtest-enforce-b');
const DRY = testContainerName('bwtest-enforce-dry');
const NS = testContainerName('bwtest-enforce-ns');
const W = testContainerName('bwtest-enforce-w');
const L = testContainerName('bwtest-enforce-l');
/** A label value only this run's containers carry. */
const LABEL = `bwtest.enforce=${L}`;

const POLICIES = `
- policy: no-exec-from-tmp
  containers: [${A}]
  match:
    exec:
      pathPrefixes: [/tmp/]
  action: kill
- policy: dry-exec-from-tmp
  containers: [${DRY}]
  match:
    exec:
      pathPrefixes: [/tmp/]
  action: kill
  dryRun: true
- policy: no-namespaces
  containers: [${NS}]
  match:
    syscalls: [unshare, mount]
  action: deny
- policy: labelled-no-exec-from-tmp
  containers: [label:${LABEL}]
  match:
    exec:
      pathPrefixes: [/tmp/]
  action: kill
- policy: no-dropped-binaries
  containers: [${W}]
  match:
    exec:
      writtenFiles: true
  action: kill
`;

/** Copies busybox to `dir`, execs the copy which writes /out/<tag>, and records the copy's exit status. */
const dropAndRun = (dir: string, tag: string) =>
  `cp /bin/busybox ${dir}/sh && ${dir}/sh -c 'echo ran > /out/${tag}'; echo $? > /out/${tag}.status`;

let rig: Rig;
beforeAll(async () => {
  rig = await startRig(POLICIES);
});
afterAll(async () => {
  await rig?.close();
});

describe('enforce (syscall-kill on this kernel)', () => {
  it('chooses a variant and says when deny degrades to kill', () => {
    // This kernel has no BPF LSM (DESIGN.md §4): deny must degrade, never vanish.
    expect(rig.plugin.variantName()).toBe('syscall-kill');
    expect(rig.plugin.stats().denyDegraded).toBe(true);
  });

  it('kills a binary dropped in /tmp before it runs, and the event names it', async () => {
    const code = await run(rig, A, dropAndRun('/tmp', 'a'));
    expect(code).toBe(0);
    expect(outFile(rig, 'a')).toBeNull(); // the dropped binary never ran an instruction
    expect(outFile(rig, 'a.status')).toBe('137'); // 128 + SIGKILL
    const e = await waitFor(rig.events, (e) => e.type === 'enforce.exec' && e.container?.name === A, `enforce.exec for ${A}`);
    expect(e).toMatchObject({ policy: 'no-exec-from-tmp', action: 'kill', enforced_as: 'kill', scope: 'process', dryRun: false, path: '/tmp/sh', reason: ['prefix'] });
    expect(e.container?.id).toMatch(/^[0-9a-f]{64}$/);
  });

  it('a policy for container A never touches container B running the same command', async () => {
    const [a, b] = await Promise.all([run(rig, `${A}-2`, dropAndRun('/tmp', 'a2')), run(rig, B, dropAndRun('/tmp', 'b'))]);
    expect([a, b]).toEqual([0, 0]);
    expect(outFile(rig, 'b')).toBe('ran');
    expect(outFile(rig, 'b.status')).toBe('0');
    // A's selector is a name: `${A}-2` is another container and is not selected either.
    expect(outFile(rig, 'a2')).toBe('ran');
    await new Promise((r) => setTimeout(r, 300)); // a drain interval: a stray record would be here
    expect(rig.events.filter((e) => e.container?.name === B || e.container?.name === `${A}-2`)).toEqual([]);
  });

  it('dryRun only reports', async () => {
    await run(rig, DRY, dropAndRun('/tmp', 'dry'));
    expect(outFile(rig, 'dry')).toBe('ran');
    const e = await waitFor(rig.events, (e) => e.container?.name === DRY, `enforce event for ${DRY}`);
    expect(e).toMatchObject({ type: 'enforce.exec', policy: 'dry-exec-from-tmp', action: 'kill', enforced_as: 'none', dryRun: true });
  });

  it('kills unshare and mount (deny degraded to kill, stated on the event)', async () => {
    await run(rig, NS, `unshare -m true; echo $? > /out/unshare; mount -t tmpfs none /mnt; echo $? > /out/mount`, ['--cap-add', 'SYS_ADMIN']);
    expect(outFile(rig, 'unshare')).toBe('137');
    expect(outFile(rig, 'mount')).toBe('137');
    const u = await waitFor(rig.events, (e) => e.container?.name === NS && e.syscall === 'unshare', 'enforce.syscall unshare');
    expect(u).toMatchObject({ type: 'enforce.syscall', policy: 'no-namespaces', action: 'deny', enforced_as: 'kill' });
    await waitFor(rig.events, (e) => e.container?.name === NS && e.syscall === 'mount', 'enforce.syscall mount');
  });

  it('selects a container by label from its create event, before it acts', async () => {
    // Same command, same image: only the labelled container is selected.
    const [labelled, plain] = await Promise.all([run(rig, L, dropAndRun('/tmp', 'l'), ['--label', LABEL]), run(rig, `${L}-plain`, dropAndRun('/tmp', 'lp'))]);
    expect([labelled, plain]).toEqual([0, 0]);
    expect(outFile(rig, 'l')).toBeNull();
    expect(outFile(rig, 'l.status')).toBe('137');
    expect(outFile(rig, 'lp')).toBe('ran');
    const e = await waitFor(rig.events, (e) => e.container?.name === L, `enforce.exec for ${L}`);
    expect(e).toMatchObject({ policy: 'labelled-no-exec-from-tmp', path: '/tmp/sh', enforced_as: 'kill' });
    expect(rig.events.filter((e) => e.container?.name === `${L}-plain`)).toEqual([]);
  });

  it('kills the exec of a file the container wrote, wherever it is', async () => {
    await run(rig, W, `mkdir -p /var/lib/x && ${dropAndRun('/var/lib/x', 'w')}; /bin/true && echo ok > /out/w.base`);
    expect(outFile(rig, 'w')).toBeNull();
    expect(outFile(rig, 'w.status')).toBe('137');
    expect(outFile(rig, 'w.base')).toBe('ok'); // image binaries are not "written files"
    const e = await waitFor(rig.events, (e) => e.container?.name === W, `enforce.exec for ${W}`);
    expect(e).toMatchObject({ type: 'enforce.exec', policy: 'no-dropped-binaries', path: '/var/lib/x/sh', reason: ['written'] });
  });

  it('refuses a bad policy with its line and keeps the running ones', async () => {
    const bad = `- policy: typo\n  containers: [x]\n  match:\n    syscalls: [mounty]\n  action: kill\n`;
    expect(() => rig.plugin.addPolicies(parsePoliciesOrThrow(bad, 'bad.yaml'))).toThrow(/^bad\.yaml:4: match\.syscalls\.0 \(policy typo\): unknown syscall/);
    const dup = parsePoliciesOrThrow(`- policy: no-exec-from-tmp\n  containers: [y]\n  match: { syscalls: [bpf] }\n  action: audit\n`, 'dup.yaml');
    expect(() => rig.plugin.addPolicies(dup)).toThrow(/already loaded/);
    expect(rig.plugin.policies().map((p) => p.name)).toEqual(['no-exec-from-tmp', 'dry-exec-from-tmp', 'no-namespaces', 'labelled-no-exec-from-tmp', 'no-dropped-binaries']);
    const again = testContainerName('bwtest-enforce-a');
    rig.plugin.addPolicies(parsePoliciesOrThrow(`- policy: again\n  containers: [${again}]\n  match: { exec: { pathPrefixes: [/tmp/] } }\n  action: kill\n`, 'add.yaml'));
    await run(rig, again, dropAndRun('/tmp', 'again'));
    expect(outFile(rig, 'again.status')).toBe('137');
    expect(rig.failures).toEqual([]);
  });
});
