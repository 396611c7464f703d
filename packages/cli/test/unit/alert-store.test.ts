import { describe, expect, it } from 'vitest';
import { createEvent, type IEvent } from '@boxwatch/core';
import { AlertStore } from '../../src/runtime/alert-store.js';
import { formatDuration, progressBar } from '../../src/runtime/status-line.js';

function alert(id: string, rule: string, priority: string, container: string | null, time: string, count = 1): IEvent {
  return createEvent(
    'alert',
    { time: new Date(time), ts: 0n, host: 'h', container: container ? { id: `${container}`.padEnd(64, '0'), name: container } : null, cgroupId: 0n, pid: 1, tid: 1, comm: 'x' },
    { id, rule, priority, message: rule, count, last_seen: time },
  );
}

describe('AlertStore', () => {
  it('filters by minimum priority, rule, container and time; newest first', () => {
    const s = new AlertStore(100);
    s.add(alert('1', 'A', 'notice', 'web', '2026-01-01T00:00:00Z'));
    s.add(alert('2', 'B', 'critical', 'db', '2026-01-01T00:01:00Z'));
    s.add(alert('3', 'A', 'warning', 'db', '2026-01-01T00:02:00Z'));
    expect(s.query().map((a) => a.id)).toEqual(['3', '2', '1']);
    expect(s.query({ priority: 'warning' }).map((a) => a.id)).toEqual(['3', '2']);
    expect(s.query({ rule: 'A' }).map((a) => a.id)).toEqual(['3', '1']);
    expect(s.query({ container: 'db' }).map((a) => a.id)).toEqual(['3', '2']);
    expect(s.query({ since: new Date('2026-01-01T00:01:00Z') }).map((a) => a.id)).toEqual(['3', '2']);
    expect(s.query({ limit: 1 }).map((a) => a.id)).toEqual(['3']);
  });

  it('replaces an alert re-emitted with a higher count and keeps at most capacity', () => {
    const s = new AlertStore(2);
    s.add(alert('1', 'A', 'notice', 'web', '2026-01-01T00:00:00Z'));
    s.add(alert('1', 'A', 'notice', 'web', '2026-01-01T00:00:05Z', 4));
    expect(s.size).toBe(1);
    expect(s.query()[0]!.count).toBe(4);
    s.add(alert('2', 'A', 'notice', 'web', '2026-01-01T00:00:06Z'));
    s.add(alert('3', 'A', 'notice', 'web', '2026-01-01T00:00:07Z'));
    expect(s.query().map((a) => a.id)).toEqual(['3', '2']);
    expect(s.received).toBe(4);
  });

  it('streams matching alerts to subscribers until they unsubscribe', () => {
    const s = new AlertStore(10);
    const got: string[] = [];
    const off = s.subscribe({ priority: 'error' }, (a) => got.push(String(a.id)));
    s.add(alert('1', 'A', 'notice', null, '2026-01-01T00:00:00Z'));
    s.add(alert('2', 'A', 'critical', null, '2026-01-01T00:00:00Z'));
    off();
    s.add(alert('3', 'A', 'critical', null, '2026-01-01T00:00:00Z'));
    expect(got).toEqual(['2']);
  });
});

describe('status line pieces', () => {
  it('formats progress and time left', () => {
    expect(progressBar(0.5, 10)).toBe('[#####.....]  50%');
    expect(progressBar(2, 4)).toBe('[####] 100%');
    expect(formatDuration(9 * 60_000 + 5_000)).toBe('9m05s');
    expect(formatDuration(3_600_000 + 60_000)).toBe('1h01m');
    expect(formatDuration(400)).toBe('0s');
  });
});

describe('AlertStore acknowledge', () => {
  it('marks a retained alert once, tells the subscribers, and keeps it across re-emissions', () => {
    const s = new AlertStore(10);
    const got: Array<{ id: string; acknowledged: unknown }> = [];
    s.subscribe({}, (a) => got.push({ id: String(a.id), acknowledged: a.acknowledged }));
    s.add(alert('1', 'A', 'notice', 'web', '2026-01-01T00:00:00Z'));
    expect(s.acknowledge('nope')).toBeNull();
    expect(s.acknowledge('1', new Date('2026-01-01T00:00:10Z'))?.acknowledged).toBe('2026-01-01T00:00:10.000Z');
    expect(s.acknowledge('1', new Date('2026-01-01T00:00:20Z'))?.acknowledged).toBe('2026-01-01T00:00:10.000Z');
    s.add(alert('1', 'A', 'notice', 'web', '2026-01-01T00:00:30Z', 2));
    expect(got).toEqual([
      { id: '1', acknowledged: undefined },
      { id: '1', acknowledged: '2026-01-01T00:00:10.000Z' },
      { id: '1', acknowledged: '2026-01-01T00:00:10.000Z' },
    ]);
    expect(s.query()[0]).toMatchObject({ id: '1', count: 2, acknowledged: '2026-01-01T00:00:10.000Z' });
  });
});
