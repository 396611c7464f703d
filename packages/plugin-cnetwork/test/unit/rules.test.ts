import { describe, expect, it } from 'vitest';
import { BoxwatchError } from '@boxwatch/core';
import { expandNetnsPairs, expandPairs, parseRule, type BannedPairRule } from '../../src/rules.js';
import { resolveOptions } from '../../src/options.js';

const configErr = (fn: () => unknown, field: string) => {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(BoxwatchError);
    expect((err as BoxwatchError).code).toBe('ERR_CONFIG');
    expect((err as BoxwatchError).field).toBe(field);
    return;
  }
  throw new Error(`expected ERR_CONFIG for ${field}`);
};

describe('rule validation', () => {
  it('accepts IP strings, {ip} and {container}', () => {
    expect(parseRule({ a: '10.0.0.1', b: { ip: '::ffff:10.0.0.2' } })).toEqual({ a: { kind: 'ip', ip: '10.0.0.1' }, b: { kind: 'ip', ip: '10.0.0.2' } });
    expect(parseRule({ id: 'r1', a: { container: '/web' }, b: 'fd00::2' })).toMatchObject({ id: 'r1', a: { kind: 'container', container: 'web' }, b: { kind: 'ip', ip: 'fd00::2' } });
  });

  it('names the bad field', () => {
    configErr(() => parseRule({ a: '10.0.0.256', b: '10.0.0.1' }), 'rule.a');
    configErr(() => parseRule({ a: '10.0.0.1', b: { ip: 'nope' } }), 'rule.b.ip');
    configErr(() => parseRule({ a: '10.0.0.1', b: { container: 'bad name!' } }), 'rule.b.container');
    configErr(() => parseRule({ a: '10.0.0.1', b: 42 }), 'rule.b');
    configErr(() => parseRule({ a: '10.0.0.1', b: '::ffff:10.0.0.1' }), 'rule');
    configErr(() => parseRule({ a: '0.0.0.0', b: '10.0.0.1' }), 'rule.a');
    configErr(() => parseRule({ a: '10.0.0.1', b: '10.0.0.2', extra: 1 }), 'rule.extra');
    configErr(() => parseRule({ id: 'has space', a: '10.0.0.1', b: '10.0.0.2' }), 'rule.id');
    configErr(() => parseRule('10.0.0.1'), 'rule');
  });

  it('validates options', () => {
    expect(resolveOptions({}).flowIntervalMs).toBe(5000);
    configErr(() => resolveOptions({ flowIntervalMs: 10 }), 'flowIntervalMs');
    configErr(() => resolveOptions({ ringBufferBytes: 3 << 16 }), 'ringBufferBytes');
    configErr(() => resolveOptions({ rules: [{ a: 'x', b: '10.0.0.1' }] }), 'rules[0].a');
    expect(resolveOptions({}).udpAddresses).toBe('socket');
    expect(resolveOptions({ udpAddresses: 'syscall' }).udpAddresses).toBe('syscall');
    configErr(() => resolveOptions({ udpAddresses: 'sys' as never }), 'udpAddresses');
  });
});

describe('rule expansion into kernel pairs', () => {
  const rule = (number: number, a: string[], b: string[]): [BannedPairRule, Record<string, string[]>] => [
    { id: `r${number}`, number, a: { kind: 'container', container: `a${number}` }, b: { kind: 'container', container: `b${number}` } },
    { [`a${number}`]: a, [`b${number}`]: b },
  ];

  it('installs both orders of every address pair, first rule wins on overlap, never a self-pair', () => {
    const [r1, m1] = rule(1, ['10.0.0.1', 'fd00::1'], ['10.0.0.2']);
    const [r2, m2] = rule(2, ['10.0.0.2'], ['10.0.0.1', '10.0.0.2']);
    const ips = { ...m1, ...m2 };
    const pairs = expandPairs([r2, r1], (e) => (e.kind === 'container' ? ips[e.container]! : [e.ip]));
    expect(Object.fromEntries(pairs)).toEqual({
      '10.0.0.1|10.0.0.2': 1,
      '10.0.0.2|10.0.0.1': 1,
      'fd00::1|10.0.0.2': 1,
      '10.0.0.2|fd00::1': 1,
    });
  });

  it('a container without addresses expands to nothing', () => {
    const [r] = rule(1, [], ['10.0.0.2']);
    expect(expandPairs([r], () => []).size).toBe(0);
  });
});

describe('netns entries for wildcard-bound sockets', () => {
  it('one (netns of the local address, remote) per pair whose local address is a known container; the lower rule number wins', () => {
    // 10.0.0.1 and 10.0.0.3 are one container's two networks (netns 7); 10.0.0.2 is another (netns 9).
    const netns: Record<string, number> = { '10.0.0.1': 7, '10.0.0.3': 7, '10.0.0.2': 9 };
    const pairs = new Map([
      ['10.0.0.3|10.0.0.2', 2],
      ['10.0.0.2|10.0.0.3', 2],
      ['10.0.0.1|10.0.0.2', 1],
      ['10.0.0.2|10.0.0.1', 1],
      ['10.0.0.1|192.0.2.9', 3], // remote outside: only the local side gets an entry
      ['192.0.2.9|10.0.0.1', 3],
    ]);
    expect(Object.fromEntries(expandNetnsPairs(pairs, (a) => netns[a] ?? null))).toEqual({
      '7|10.0.0.2': '1|10.0.0.1',
      '9|10.0.0.1': '1|10.0.0.2',
      '9|10.0.0.3': '2|10.0.0.2',
      '7|192.0.2.9': '3|10.0.0.1',
    });
  });

  it('a local address whose namespace is unknown gets no entry', () => {
    expect(expandNetnsPairs(new Map([['10.0.0.1|10.0.0.2', 1]]), () => null).size).toBe(0);
  });
});
