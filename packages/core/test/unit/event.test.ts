import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { configError, createEvent, eventFromJSON, BoxwatchError, containerIdFromCgroupName, type EventHeader } from '@boxwatch/core';

const header = (over: Partial<EventHeader> = {}): EventHeader => ({
  time: new Date('2026-11-28T10:00:00.123Z'),
  ts: 123456789012345n,
  host: 'node-1',
  container: { id: 'a'.repeat(64), name: 'web', image: 'busybox:latest' },
  cgroupId: 4242n,
  pid: 100,
  tid: 101,
  comm: 'sh',
  ...over,
});

describe('events', () => {
  it('serialise to the documented JSON form and back', () => {
    const e = createEvent('syscall.mkdir', header(), { path: '/tmp/x', mode: 0o755, ret: 0, big: 2n ** 63n });
    const json = e.toJSON();
    expect(json).toEqual({
      schema: 1,
      type: 'syscall.mkdir',
      time: '2026-11-28T10:00:00.123Z',
      ts: '123456789012345',
      host: 'node-1',
      container: { id: 'a'.repeat(64), name: 'web', image: 'busybox:latest' },
      cgroupId: '4242',
      pid: 100,
      tid: 101,
      comm: 'sh',
      path: '/tmp/x',
      mode: 0o755,
      ret: 0,
      big: '9223372036854775808',
    });
    const back = eventFromJSON(JSON.parse(JSON.stringify(json)));
    expect(back.toJSON()).toEqual(json);
    expect(back.ts).toBe(123456789012345n);
    expect(back.time.getTime()).toBe(e.time.getTime());
  });

  it('round-trip arbitrary field values through JSON text', () => {
    const jsonValue = fc.jsonValue().filter((v) => !(typeof v === 'number' && Object.is(v, -0)));
    fc.assert(
      fc.property(fc.dictionary(fc.string({ minLength: 1 }).filter((k) => !['type', 'time', 'ts', 'host', 'container', 'cgroupId', 'pid', 'tid', 'comm', 'schema', '__proto__'].includes(k)), jsonValue), (fields) => {
        const e = createEvent('x.y', header({ container: null }), fields);
        const text = JSON.stringify(e);
        expect(eventFromJSON(JSON.parse(text)).toJSON()).toEqual(JSON.parse(text));
      }),
    );
  });

  it('rejects JSON that is not an event', () => {
    expect(() => eventFromJSON({ schema: 1 } as never)).toThrow(/needs a string `type` and `time`/);
  });
});

describe('errors', () => {
  it('configError names file, line and field', () => {
    const e = configError('plugins.syscall.drainIntervalMs', 'must be > 0', { file: '/etc/boxwatch.yaml', line: 12 });
    expect(e).toBeInstanceOf(BoxwatchError);
    expect(e).toMatchObject({ code: 'ERR_CONFIG', field: 'plugins.syscall.drainIntervalMs', file: '/etc/boxwatch.yaml', line: 12 });
    expect(e.message).toBe('/etc/boxwatch.yaml:12: plugins.syscall.drainIntervalMs: must be > 0');
  });
});

describe('container ids from cgroup names', () => {
  const id = '0123456789abcdef'.repeat(4);
  it.each([
    [id, id],
    [`docker-${id}.scope`, id],
    [`cri-containerd-${id}.scope`, id],
    [`libpod-${id}.scope`, id],
    [`/docker/${id}`, id],
    [`/system.slice/docker-${id}.scope`, id],
    ['/', null],
    ['system.slice', null],
    [`docker-${id.slice(1)}.scope`, null],
    [`${id}0`, null],
  ])('%s → %s', (name, want) => {
    expect(containerIdFromCgroupName(name)).toBe(want);
  });
});

describe('canonical IP addresses', async () => {
  const { canonicalIp } = await import('../../src/containers/registry.js');
  it.each([
    ['172.17.0.2', '172.17.0.2'],
    ['::ffff:172.17.0.2', '172.17.0.2'],
    ['::FFFF:10.0.0.1', '10.0.0.1'],
    ['fd00::1', 'fd00:0:0:0:0:0:0:1'],
    ['fd00:0000:0:0::0001', 'fd00:0:0:0:0:0:0:1'],
    ['::1', '0:0:0:0:0:0:0:1'],
  ])('%s → %s', (ip, want) => expect(canonicalIp(ip)).toBe(want));
});
