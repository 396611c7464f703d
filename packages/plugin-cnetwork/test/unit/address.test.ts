import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { isIPv6 } from 'node:net';
import { canonicalAddress, formatAddress, parseAddress } from '../../src/address.js';

describe('addresses as the kernel keys them', () => {
  it('stores IPv4 v4-mapped, so v4 and v4-mapped IPv6 give the same key', () => {
    const v4 = parseAddress('172.17.0.2')!;
    expect([...v4]).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 172, 17, 0, 2]);
    expect(parseAddress('::ffff:172.17.0.2')!.equals(v4)).toBe(true);
    expect(parseAddress('::ffff:ac11:2')!.equals(v4)).toBe(true);
    expect(formatAddress(v4)).toBe('172.17.0.2');
  });

  it('formats IPv6 in RFC 5952 compressed form', () => {
    expect(canonicalAddress('fd00:0:0:0:0:0:0:1')).toBe('fd00::1');
    expect(canonicalAddress('::')).toBe('::');
    expect(canonicalAddress('::1')).toBe('::1');
    expect(canonicalAddress('2001:db8:0:1:0:0:0:1')).toBe('2001:db8:0:1::1');
    expect(canonicalAddress('2001:db8::1:0:0:1')).toBe('2001:db8::1:0:0:1');
    expect(canonicalAddress('fe80::1%eth0')).toBe('fe80::1');
  });

  it('rejects what is not an address', () => {
    for (const bad of ['', '10.0.0.300', '10.0.0', 'example.com', '1::2::3', 'container-a']) expect(parseAddress(bad)).toBeNull();
  });

  it('round-trips every IPv4 and IPv6 address', () => {
    fc.assert(
      fc.property(fc.ipV4(), (ip) => {
        expect(canonicalAddress(ip)).toBe(ip.split('.').map(Number).join('.'));
      }),
    );
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (raw) => {
        const text = formatAddress(raw);
        expect(isIPv6(text) || /^\d+\.\d+\.\d+\.\d+$/.test(text)).toBe(true);
        expect([...parseAddress(text)!]).toEqual([...raw]);
      }),
    );
  });
});
