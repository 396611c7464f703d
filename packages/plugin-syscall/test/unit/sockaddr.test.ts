import { describe, expect, it } from 'vitest';
import { sockaddrFields } from '../../src/detail-specs.js';

/** Bytes of a struct sockaddr as a caller passes it to connect (little-endian family, network-order port). */
function sa(family: number, port: number, addr: number[], size: number): Uint8Array {
  const b = new Uint8Array(size);
  new DataView(b.buffer).setUint16(0, family, true);
  new DataView(b.buffer).setUint16(2, port, false);
  b.set(addr, family === 10 ? 8 : 4);
  return b;
}

describe('connect sockaddr decoding', () => {
  it('decodes IPv4, IPv6 (compressed; v4-mapped as plain IPv4) and AF_UNIX paths', () => {
    expect(sockaddrFields(sa(2, 2222, [10, 0, 0, 7], 16))).toEqual({ family: 2, family_name: 'AF_INET', daddr: '10.0.0.7', dport: 2222 });
    expect(sockaddrFields(sa(10, 443, [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], 28))).toMatchObject({ daddr: '2001:db8::1', dport: 443 });
    expect(sockaddrFields(sa(10, 80, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1], 28)).daddr).toBe('127.0.0.1');
    const unix = new Uint8Array(28);
    unix[0] = 1;
    unix.set(new TextEncoder().encode('/run/docker.sock'), 2);
    expect(sockaddrFields(unix)).toMatchObject({ family_name: 'AF_UNIX', path: '/run/docker.sock', daddr: null, dport: null });
    const abstract = new Uint8Array(12);
    abstract[0] = 1;
    abstract.set(new TextEncoder().encode('xyz'), 3);
    expect(sockaddrFields(abstract).path).toBe('@xyz');
  });

  it('a sockaddr shorter than its family needs gives no address (no read past what the caller passed)', () => {
    expect(sockaddrFields(sa(2, 22, [1, 2, 3, 4], 16).subarray(0, 6))).toMatchObject({ family: 2, daddr: null, dport: null });
    expect(sockaddrFields(new Uint8Array(0))).toMatchObject({ family: 0, daddr: null });
  });
});
