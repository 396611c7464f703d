import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { codec } from '@boxwatch/core';

describe('codecs', () => {
  it('round-trip every value of their range', () => {
    const cases: Array<[codec.Codec<unknown>, fc.Arbitrary<unknown>]> = [
      [codec.u8 as codec.Codec<unknown>, fc.integer({ min: 0, max: 255 })],
      [codec.u16 as codec.Codec<unknown>, fc.integer({ min: 0, max: 65535 })],
      [codec.u32 as codec.Codec<unknown>, fc.integer({ min: 0, max: 2 ** 32 - 1 })],
      [codec.i32 as codec.Codec<unknown>, fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 })],
      [codec.u64 as codec.Codec<unknown>, fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })],
      [codec.i64 as codec.Codec<unknown>, fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n })],
      [codec.cstring(16) as codec.Codec<unknown>, fc.string({ maxLength: 15 }).filter((s) => Buffer.byteLength(s) <= 15 && !s.includes('\0'))],
    ];
    for (const [c, arb] of cases) {
      fc.assert(
        fc.property(arb, fc.integer({ min: 0, max: 8 }), (v, off) => {
          const buf = Buffer.alloc(off + c.size);
          c.encode(v, buf, off);
          expect(c.decode(buf, off)).toEqual(v);
        }),
      );
    }
  });

  it('lays out structs at the given offsets, little-endian', () => {
    const s = codec.struct<{ a: number; b: bigint; name: string }>(32, { a: [0, codec.u32], b: [8, codec.u64], name: [16, codec.cstring(16)] });
    const buf = Buffer.alloc(32);
    s.encode({ a: 0x01020304, b: 5n, name: 'sh' }, buf, 0);
    expect(buf.subarray(0, 4)).toEqual(Buffer.from([4, 3, 2, 1]));
    expect(buf.readBigUInt64LE(8)).toBe(5n);
    expect(s.decode(buf, 0)).toEqual({ a: 0x01020304, b: 5n, name: 'sh' });
    expect(() => codec.struct(8, { a: [6, codec.u32] })).toThrow(/past struct size 8/);
  });

  it('refuses strings and buffers that do not fit', () => {
    expect(() => codec.cstring(4).encode('abcd', Buffer.alloc(4), 0)).toThrow(/longer than 3 bytes/);
    expect(() => codec.bytes(2).encode(Buffer.alloc(3), Buffer.alloc(2), 0)).toThrow(/does not fit/);
  });
});
