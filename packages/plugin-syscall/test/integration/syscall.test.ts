import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { IEvent } from '@boxwatch/core';
import { SyscallPlugin, SyscallTable, hostArch } from '@boxwatch/plugin-syscall';
import { dockerExec, ensureImage, harness, removeContainers, startContainer, waitFor, type Harness, type TestContainer } from '../harness.js';

const run = promisify(execFile);
const table = new SyscallTable(hostArch());
const id = (name: string) => {
  const n = table.id(name);
  if (n === undefined) throw new Error(`no syscall ${name}`);
  return n;
};

type Count = IEvent & { syscall: { id: number; name: string }; count: number };

/** Sum of syscall.count events of one container for one syscall name. */
function total(events: IEvent[], containerId: string, name: string): number {
  return (events as Count[])
    .filter((e) => e.type === 'syscall.count' && e.container?.id === containerId && e.syscall.name === name)
    .reduce((a, e) => a + e.count, 0);
}

describe('syscall plugin on real containers', () => {
  let h: Harness;
  let box: TestContainer;
  const containers: TestContainer[] = [];
  let plugin: SyscallPlugin;

  beforeAll(async () => {
    await ensureImage();
    h = await harness();
    box = await startContainer('main');
    containers.push(box);
    await h.registry.inspect(box.id);
    plugin = new SyscallPlugin({ watch: [box.name], drainIntervalMs: 3_600_000, sequence: true });
    const t0 = performance.now();
    await plugin.start(h.ctx);
    console.log(`syscall plugin start (open+load+attach+maps): ${(performance.now() - t0).toFixed(0)} ms`);
  });

  afterAll(async () => {
    await plugin?.stop();
    h?.registry.close();
    await removeContainers(containers);
  });

  it('counts read and write of a dd loop in the container within 1% (after dd has exited)', async () => {
    plugin.drainCounters();
    h.log.clear();
    const r = await dockerExec(box.name, 'dd', 'if=/dev/zero', 'of=/dev/null', 'bs=1', 'count=100000');
    expect(r.code).toBe(0);
    plugin.drainCounters();
    const reads = total(h.log.events, box.id, 'read');
    const writes = total(h.log.events, box.id, 'write');
    console.log(`dd in container: read ${reads}, write ${writes}`);
    expect(reads).toBeGreaterThanOrEqual(100_000);
    expect(reads).toBeLessThanOrEqual(101_000);
    expect(writes).toBeGreaterThanOrEqual(100_000);
    expect(writes).toBeLessThanOrEqual(101_000);
    const ev = (h.log.events as Count[]).find((e) => e.type === 'syscall.count' && e.syscall.name === 'read' && e.count >= 100_000)!;
    expect(ev.container?.name).toBe(box.name);
    expect(ev.comm).toBe('dd');
    expect(ev).toMatchObject({ syscall: { id: id('read'), name: 'read' } });
  });

  it('reports mkdir, execve and process.exec of `sh -c "mkdir /tmp/x && /bin/ls /tmp"` (busybox sh runs a bare `ls` in-process, without execve) under the container', async () => {
    h.log.clear();
    const r = await dockerExec(box.name, 'sh', '-c', 'mkdir /tmp/x && /bin/ls /tmp');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('x');
    const mkdir = await waitFor('syscall.mkdir', () => h.log.events.find((e) => e.type.startsWith('syscall.mkdir') && (e as IEvent & { path: string }).path === '/tmp/x'));
    expect(mkdir).toMatchObject({ ret: 0, container: { id: box.id, name: box.name } });
    const execve = await waitFor('syscall.execve of ls', () =>
      h.log.events.find((e) => e.type === 'syscall.execve' && (e as IEvent & { argv: string[] }).argv[0] === '/bin/ls'),
    );
    expect(execve).toMatchObject({ argv: ['/bin/ls', '/tmp'], ret: 0, container: { id: box.id, name: box.name } });
    const exec = await waitFor('process.exec of ls', () =>
      h.log.events.find((e) => e.type === 'process.exec' && (e as IEvent & { argv: string[] }).argv[0] === '/bin/ls'),
    );
    expect(exec).toMatchObject({ argv: ['/bin/ls', '/tmp'], uid: 0, comm: 'ls', container: { id: box.id, name: box.name } });
    console.log(JSON.stringify([mkdir, execve, exec].map((e) => e.toJSON())));
  });
});
