/**
 * Fixed-size binary codecs for BPF map keys and values (little-endian, as on x86_64 and arm64).
 * A codec knows its byte size, so a map can check it against the kernel's key/value size.
 */
export interface Codec<T> {
  readonly size: number;
  encode(value: T, buf: Buffer, offset: number): void;
  decode(buf: Buffer, offset: number): T;
}

const num = (size: 1 | 2 | 4, signed: boolean): Codec<number> => ({
  size,
  encode: (v, b, o) => {
    if (size === 1) signed ? b.writeInt8(v, o) : b.writeUInt8(v, o);
    else if (size === 2) signed ? b.writeInt16LE(v, o) : b.writeUInt16LE(v, o);
    else signed ? b.writeInt32LE(v, o) : b.writeUInt32LE(v, o);
  },
  decode: (b, o) =>
    size === 1 ? (signed ? b.readInt8(o) : b.readUInt8(o)) : size === 2 ? (signed ? b.readInt16LE(o) : b.readUInt16LE(o)) : signed ? b.readInt32LE(o) : b.readUInt32LE(o),
});

export const u8 = num(1, false);
export const u16 = num(2, false);
export const u32 = num(4, false);
export const i32 = num(4, true);

export const u64: Codec<bigint> = {
  size: 8,
  encode: (v, b, o) => void b.writeBigUInt64LE(v, o),
  decode: (b, o) => b.readBigUInt64LE(o),
};

export const i64: Codec<bigint> = {
  size: 8,
  encode: (v, b, o) => void b.writeBigInt64LE(v, o),
  decode: (b, o) => b.readBigInt64LE(o),
};

/** A u64 the caller knows stays below 2^53 (counters), as a number. */
export const u64n: Codec<number> = {
  size: 8,
  encode: (v, b, o) => void b.writeBigUInt64LE(BigInt(v), o),
  decode: (b, o) => Number(b.readBigUInt64LE(o)),
};

export function bytes(size: number): Codec<Buffer> {
  return {
    size,
    encode: (v, b, o) => {
      if (v.length > size) throw new RangeError(`value of ${v.length} bytes does not fit ${size}`);
      b.fill(0, o, o + size);
      v.copy(b, o);
    },
    decode: (b, o) => Buffer.from(b.subarray(o, o + size)),
  };
}

/** A NUL-padded C string field of `size` bytes. */
export function cstring(size: number): Codec<string> {
  return {
    size,
    encode: (v, b, o) => {
      b.fill(0, o, o + size);
      const n = b.write(v, o, size - 1, 'utf8');
      if (Buffer.byteLength(v) > n) throw new RangeError(`string longer than ${size - 1} bytes: ${v}`);
    },
    decode: (b, o) => {
      const end = b.indexOf(0, o);
      return b.toString('utf8', o, end < 0 || end > o + size ? o + size : end);
    },
  };
}

type FieldCodecs<T> = { [K in keyof T]: readonly [offset: number, codec: Codec<T[K]>] };

/** A C struct: each field at its offset (take offsets from the generated layout). */
export function struct<T extends object>(size: number, fields: FieldCodecs<T>): Codec<T> {
  const entries = Object.entries(fields) as [keyof T & string, readonly [number, Codec<unknown>]][];
  for (const [name, [offset, codec]] of entries) {
    if (offset + codec.size > size) throw new RangeError(`field ${name} (offset ${offset}, ${codec.size} bytes) past struct size ${size}`);
  }
  return {
    size,
    encode: (v, b, o) => {
      b.fill(0, o, o + size);
      for (const [name, [offset, codec]] of entries) codec.encode((v as Record<string, unknown>)[name], b, o + offset);
    },
    decode: (b, o) => {
      const out = {} as Record<string, unknown>;
      for (const [name, [offset, codec]] of entries) out[name] = codec.decode(b, o + offset);
      return out as T;
    },
  };
}
