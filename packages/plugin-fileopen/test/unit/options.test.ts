import { describe, expect, it } from 'vitest';
import { isBoxwatchError } from '@boxwatch/core';
import fc from 'fast-check';
import { DEFAULT_DENY_PREFIXES, FileOpenPlugin, PREFIX_MAX, deniedByRules, denyHint, parseDenyPrefixes, passesDenyHint } from '@boxwatch/plugin-fileopen';

function configErrorField(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    if (isBoxwatchError(err, 'ERR_CONFIG')) return err.field;
    throw err;
  }
  throw new Error('no error thrown');
}

describe('deny prefixes', () => {
  it('strings deny reads and writes; objects choose; allow re-allows a longer prefix', () => {
    const rules = parseDenyPrefixes(['/proc/', { prefix: '/lib/', reads: true }, { prefix: '/proc/1/', allow: true }, { prefix: '/srv/', writes: true }]);
    expect(deniedByRules(rules, '/proc/2/status', false)).toBe(true);
    expect(deniedByRules(rules, '/proc/2/status', true)).toBe(true);
    expect(deniedByRules(rules, '/proc/1/environ', false)).toBe(false);
    expect(deniedByRules(rules, '/lib/libc.so.6', false)).toBe(true);
    expect(deniedByRules(rules, '/lib/libc.so.6', true)).toBe(false);
    expect(deniedByRules(rules, '/srv/data', false)).toBe(false);
    expect(deniedByRules(rules, '/srv/data', true)).toBe(true);
    expect(deniedByRules(rules, '/etc/shadow', false)).toBe(false);
  });

  it('defaults drop library reads only', () => {
    const rules = parseDenyPrefixes(DEFAULT_DENY_PREFIXES);
    expect(deniedByRules(rules, '/usr/lib/x86_64-linux-gnu/libc.so.6', false)).toBe(true);
    expect(deniedByRules(rules, '/usr/lib/x86_64-linux-gnu/libc.so.6', true)).toBe(false);
    expect(deniedByRules(rules, '/etc/ld.so.cache', false)).toBe(true);
    expect(deniedByRules(rules, '/etc/shadow', false)).toBe(false);
    expect(deniedByRules(rules, '/proc/1/status', false)).toBe(false);
  });

  it('names the bad entry', () => {
    expect(configErrorField(() => parseDenyPrefixes('/x'))).toBe('denyPrefixes');
    expect(configErrorField(() => parseDenyPrefixes(['/ok', 'relative']))).toBe('denyPrefixes[1].prefix');
    expect(configErrorField(() => parseDenyPrefixes(['/' + 'a'.repeat(PREFIX_MAX)]))).toBe('denyPrefixes[0].prefix');
    expect(configErrorField(() => parseDenyPrefixes([{ prefix: '/x', reads: 'yes' }]))).toBe('denyPrefixes[0].reads');
    expect(configErrorField(() => parseDenyPrefixes([{ prefix: '/x', reads: false, writes: false }]))).toBe('denyPrefixes[0]');
    expect(configErrorField(() => parseDenyPrefixes([{ prefix: '/x', allow: true, reads: true }]))).toBe('denyPrefixes[0]');
    expect(configErrorField(() => parseDenyPrefixes([{ prefix: '/x', foo: 1 }]))).toBe('denyPrefixes[0].foo');
    expect(configErrorField(() => parseDenyPrefixes([42]))).toBe('denyPrefixes[0]');
  });
});

describe('plugin options', () => {
  it('validates each option by name', () => {
    expect(configErrorField(() => new FileOpenPlugin({ maxDepth: 8 }))).toBe('maxDepth');
    expect(configErrorField(() => new FileOpenPlugin({ onlyWrites: 1 as unknown as boolean }))).toBe('onlyWrites');
    expect(configErrorField(() => new FileOpenPlugin({ variant: 'fentry' as 'tp_btf' }))).toBe('variant');
    expect(configErrorField(() => new FileOpenPlugin({ ringBuffer: { stagingBytes: 1000 } }))).toBe('ringBuffer.stagingBytes');
    expect(configErrorField(() => new FileOpenPlugin({ ringBytes: 100_000 }))).toBe('ringBytes');
    expect(configErrorField(() => new FileOpenPlugin({ containers: [''] }))).toBe('containers');
    expect(configErrorField(() => new FileOpenPlugin({ bogus: 1 } as never))).toBe('bogus');
    expect(configErrorField(() => new FileOpenPlugin({ denyPrefixes: ['nope'] }))).toBe('denyPrefixes[0].prefix');
  });

  it('prefers kretprobe, then tp_btf, then raw_tp; a forced variant is the only one', () => {
    expect(new FileOpenPlugin().variants.map((v) => v.name)).toEqual(['kretprobe', 'tp_btf', 'raw_tp']);
    expect(new FileOpenPlugin({ variant: 'raw_tp' }).variants.map((v) => v.name)).toEqual(['raw_tp']);
  });

  it('setDenyPrefixes before start validates and keeps the list', () => {
    const p = new FileOpenPlugin();
    p.setDenyPrefixes(['/tmp/']);
    expect(p.denyPrefixes()).toEqual([{ prefix: '/tmp/', action: 3 }]);
    expect(configErrorField(() => p.setDenyPrefixes(['tmp']))).toBe('setDenyPrefixes[0].prefix');
    expect(p.denyPrefixes()).toEqual([{ prefix: '/tmp/', action: 3 }]);
  });
});

describe('deny hint (kernel pre-filter of the deny list)', () => {
  it('never lets a path skip the lookup when a prefix matches it', () => {
    const seg = fc.stringMatching(/^[a-z.]{0,6}$/);
    fc.assert(
      fc.property(fc.array(seg, { minLength: 1, maxLength: 6 }), fc.array(seg, { maxLength: 4 }), (prefixes, path) => {
        const rules = parseDenyPrefixes(prefixes.map((p) => '/' + p));
        const hint = denyHint(rules.map((r) => r.prefix));
        const full = '/' + path.join('/');
        const matches = rules.some((r) => full.startsWith(r.prefix));
        if (matches) expect(passesDenyHint(hint, full)).toBe(true);
      }),
    );
  });

  it('skips the lookup for paths no default prefix can match', () => {
    const hint = denyHint(parseDenyPrefixes(DEFAULT_DENY_PREFIXES).map((r) => r.prefix));
    expect(passesDenyHint(hint, '/tmp/bench-file')).toBe(false);
    expect(passesDenyHint(hint, '/proc/1/status')).toBe(false);
    expect(passesDenyHint(hint, '/etc/hostname')).toBe(true);
    expect(passesDenyHint(hint, '/usr/lib/libc.so.6')).toBe(true);
    expect(passesDenyHint(denyHint(['/']), '/anything')).toBe(true);
  });
});
