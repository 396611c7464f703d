import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BaseEvent, configError, createEvent, eventFromJSON, BoxwatchError, containerIdFromCgroupName, stringifyEvent, type EventHeader, type IEvent } from '@boxwatch/core';

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

  it('stringifyEvent gives exactly the text of JSON.stringify(event), for any fields and headers', () => {
    const value: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
      v: fc.oneof(
        { depthSize: 'small' },
        fc.string(),
        fc.string({ unit: 'binary' }),
        fc.double(),
        fc.integer(),
        fc.bigInt(),
        fc.boolean(),
        fc.constant(null),
        fc.constant(undefined),
        fc.date({ noInvalidDate: true }),
        fc.array(tie('v'), { maxLength: 3 }),
        fc.dictionary(fc.string(), tie('v'), { maxKeys: 3 }),
      ),
    })).v;
    // Keys include the awkward ones: header names, `schema`, `__proto__`, integer-like keys.
    const key = fc.oneof(fc.string({ minLength: 1 }), fc.constantFrom('schema', '__proto__', '0', '7', 'path', 'time', 'comm'));
    const container = fc.oneof(
      fc.constant(null),
      fc.record({ id: fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 1, maxLength: 64 }), name: fc.string(), image: fc.option(fc.string(), { nil: undefined }), labels: fc.option(fc.dictionary(fc.string(), fc.string()), { nil: undefined }) }),
    );
    const hdr = fc.record({
      time: fc.date({ noInvalidDate: true }),
      ts: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
      host: fc.string({ unit: 'binary' }),
      container,
      cgroupId: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
      pid: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
      tid: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
      comm: fc.string({ unit: 'binary', maxLength: 15 }),
    });
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), hdr, fc.dictionary(key, value, { maxKeys: 6 }), (type, h, fields) => {
        const e = createEvent(type, h as EventHeader, fields);
        // A field named like a header key replaces it; where that makes JSON.stringify throw, both must.
        const outcome = (f: () => string) => {
          try {
            return f();
          } catch (err) {
            return `throws ${(err as Error).constructor.name}`;
          }
        };
        expect(outcome(() => stringifyEvent(e))).toBe(outcome(() => JSON.stringify(e)));
        const withoutHostAndContainer = () => JSON.stringify({ ...e.toJSON(), host: undefined, container: undefined });
        expect(outcome(() => stringifyEvent(e, { omitHostAndContainer: true }))).toBe(outcome(withoutHostAndContainer));
      }),
      { numRuns: 2000 },
    );
  });

  it('stringifyEvent follows a container filled in place and events that are not plain BaseEvents', () => {
    const c: { id: string; name?: string; image?: string } = { id: 'b'.repeat(64) };
    const e = createEvent('x.y', header({ container: c }), { n: 1 });
    expect(stringifyEvent(e)).toBe(JSON.stringify(e));
    Object.assign(c, { name: 'web', image: 'busybox:latest' }); // what the registry does after inspecting
    expect(JSON.parse(stringifyEvent(e)).container).toEqual({ id: 'b'.repeat(64), name: 'web', image: 'busybox:latest' });
    class Custom extends BaseEvent {
      override toJSON() {
        return { ...super.toJSON(), custom: true };
      }
    }
    const custom = new Custom('x.z', header(), { n: 2 });
    expect(stringifyEvent(custom)).toBe(JSON.stringify(custom));
    const plain = { type: 'p.q', toJSON: () => ({ schema: 1, type: 'p.q', time: 'now' }) } as unknown as IEvent;
    expect(stringifyEvent(plain)).toBe(JSON.stringify(plain));
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
