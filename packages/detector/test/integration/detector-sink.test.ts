/**
 * The detector's feed keeps each process's history in the order the kernel made it: the real
 * plugins, the real DetectorSink (it merges the plugins' ring buffers by time), a real Detector (the
 * harness pipeline), and a `docker run --rm` container that runs a thousand short programs.
 *
 * A process's own events come from one thread, so the kernel timestamps them in order; the detector
 * must see that order, and a child's events after the fork that made it. When it did not (the merge
 * key was the event's ms wall time plus the sub-ms part of the kernel time, not monotonic in it),
 * an exit could come before the exec it followed: the process table then kept the dead program and
 * handed it to the next process given the same pid, so a forked httpd child was named `sed`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IEvent } from '@boxwatch/core';
import { Containers, ensureImage, startPipeline, waitFor, type Pipeline } from './harness.js';

let p: Pipeline;
const boxes = new Containers();

beforeAll(async () => {
  await ensureImage();
  p = await startPipeline({ models: false });
});

afterAll(async () => {
  await boxes.removeAll();
  await p?.close();
});

/**
 * The events of each process in the order the detector got them, its fork (made by the parent)
 * first. A fork starts a new history for the child's pid: pids are reused.
 */
function processHistories(events: IEvent[]): IEvent[][] {
  const all: IEvent[][] = [];
  const current = new Map<number, IEvent[]>();
  const add = (pid: number, e: IEvent, fresh: boolean) => {
    let list = current.get(pid);
    if (!list || fresh) {
      current.set(pid, (list = []));
      all.push(list);
    }
    list.push(e);
  };
  for (const e of events) {
    if (e.type === 'process.fork') add((e as unknown as { child_pid: number }).child_pid, e, true);
    // syscall.count is a per-process aggregate stamped when its interval is drained, after the fact.
    else if (e.pid === e.tid && e.type !== 'syscall.count') add(e.pid, e, false);
  }
  return all;
}

describe('DetectorSink', () => {
  it('hands the detector every process\'s events in kernel order, across the plugins\' ring buffers', async () => {
    // 1200 processes, each a fork, file opens and an exit within a ms or two (`ls` also an exec;
    // busybox sh runs cat and head as applets in the forked child).
    const { name, code } = await boxes.run('order', ['--network', 'none'], ['sh', '-c', 'i=0; while [ $i -lt 400 ]; do ls / >/dev/null; cat /etc/passwd >/dev/null; head -n 1 /etc/group >/dev/null; i=$((i+1)); done']);
    expect(code).toBe(0);
    const mine = () => p.events.filter((e) => e.container?.name === name);
    await waitFor('the exits of the container\'s processes', () => mine().filter((e) => e.type === 'process.exit').length >= 1200);

    let checked = 0;
    const outOfOrder: string[] = [];
    for (const list of processHistories(mine())) {
      const pid = list.at(-1)!.pid;
      for (let i = 1; i < list.length; i++) {
        if (list[i]!.ts < list[i - 1]!.ts) outOfOrder.push(`pid ${pid}: ${list[i - 1]!.type} then ${list[i]!.type} ${list[i - 1]!.ts - list[i]!.ts} ns earlier`);
      }
      // The container's first process was forked on the host side (runc), before it was watched.
      const types = list.map((e) => e.type);
      if (!types.includes('process.fork')) continue;
      checked++;
      const summary = `pid ${pid}: ${types.slice(0, 12).join(' ')}${types.length > 12 ? ' ...' : ''}`;
      if (types[0] !== 'process.fork' || types.at(-1) !== 'process.exit') outOfOrder.push(summary);
    }
    expect(outOfOrder.slice(0, 5)).toEqual([]);
    expect(checked).toBeGreaterThanOrEqual(1200);
    expect(mine().some((e) => e.type === 'file.open')).toBe(true);
  });
});
