import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createEvent, decodeHeader, EVENT_HEADER_LAYOUT as H, KernelClock, type ContainerResolver } from '@boxwatch/core';
import { decodeFileOpen, decodeOpenFlags, isWriteOpen } from '@boxwatch/plugin-fileopen';
import { file_open_record as R } from '../../src/generated/layout.js';

const container = { id: 'c'.repeat(64), name: 'web' };
const containers: ContainerResolver = {
  byCgroupId: (id) => (id === 42n ? container : null),
  find: () => null,
  list: () => [],
  cgroupIdOf: () => null,
  details: () => null,
  byIp: () => null,
  onChange: () => () => undefined,
};
const ctx = { host: 'h', clock: new KernelClock(), containers };

interface Rec {
  path: string;
  fs: string;
  ret: number;
  flags: number;
  mode: number;
  source: 1 | 2;
  truncated: boolean;
}

/** Lay a record out as the kernel does: fixed part, then only path_len + 1 bytes of path. */
function encode(r: Rec, pad = 8): DataView {
  const path = Buffer.from(r.path);
  const buf = Buffer.alloc(pad + R.offsets.path + path.length + 1);
  const o = pad;
  buf.writeBigUInt64LE(123n, o + H.offsets.ts_ns);
  buf.writeBigUInt64LE(42n, o + H.offsets.cgroup_id);
  buf.writeUInt32LE(1000, o + H.offsets.tgid);
  buf.writeUInt32LE(1001, o + H.offsets.pid);
  buf.writeUInt16LE(1, o + H.offsets.type);
  buf.write('cat', o + H.offsets.comm);
  buf.writeBigInt64LE(BigInt(r.ret), o + R.offsets.ret);
  buf.writeUInt32LE(r.flags >>> 0, o + R.offsets.raw_flags);
  buf.writeUInt32LE(r.mode, o + R.offsets.mode);
  buf.writeUInt16LE(path.length, o + R.offsets.path_len);
  buf.writeUInt8(r.source, o + R.offsets.source);
  buf.writeUInt8(r.truncated ? 1 : 0, o + R.offsets.status);
  buf.write(r.fs, o + R.offsets.fs);
  path.copy(buf, o + R.offsets.path);
  return new DataView(buf.buffer, buf.byteOffset, buf.length);
}

describe('decodeFileOpen', () => {
  it('decodes every field of a resolved open', () => {
    const v = encode({ path: '/etc/shadow', fs: 'overlay', ret: 3, flags: 0o2000000, mode: 0, source: 1, truncated: false });
    const e = decodeFileOpen(v, 8, v.byteLength - 8, ctx);
    expect(e).toMatchObject({
      type: 'file.open',
      path: '/etc/shadow',
      fs: 'overlay',
      ret: 3,
      raw_flags: 0o2000000,
      mode: 0,
      truncated: false,
      pid: 1000,
      tid: 1001,
      comm: 'cat',
      cgroupId: 42n,
      container,
    });
    expect(e.flags).toEqual({ read: true, write: false, create: false, trunc: false, append: false, excl: false, directory: false, cloexec: true, nofollow: false, tmpfile: false });
    expect(e.toJSON()).toMatchObject({ path: '/etc/shadow', ret: 3, flags: { read: true } });
    // The same event as the generic path builds: same keys in the same order (the JSON order).
    const { path, fs, flags, raw_flags, mode, ret, truncated } = e;
    const generic = createEvent('file.open', decodeHeader(v, 8, ctx), { path, fs, flags, raw_flags, mode, ret, truncated });
    expect(Object.keys(e)).toEqual(Object.keys(generic));
    expect(JSON.stringify(e)).toBe(JSON.stringify(generic));
  });

  it('a truncated walk loses its leading slash; a truncated argument keeps it', () => {
    const walked = encode({ path: '/c40/leaf', fs: 'ext4', ret: 3, flags: 0, mode: 0, source: 1, truncated: true });
    expect(decodeFileOpen(walked, 8, walked.byteLength - 8, ctx)).toMatchObject({ path: 'c40/leaf', truncated: true });
    const arg = encode({ path: '/very/long', fs: '', ret: -2, flags: 0, mode: 0, source: 2, truncated: true });
    expect(decodeFileOpen(arg, 8, arg.byteLength - 8, ctx)).toMatchObject({ path: '/very/long', truncated: true, ret: -2 });
  });

  it('rejects a record too short for its path', () => {
    const v = encode({ path: '/etc/passwd', fs: 'overlay', ret: 3, flags: 0, mode: 0, source: 1, truncated: false });
    expect(() => decodeFileOpen(v, 8, R.offsets.path + 3, ctx)).toThrow(RangeError);
    expect(() => decodeFileOpen(v, 8, R.offsets.path - 1, ctx)).toThrow(RangeError);
  });

  it('round-trips any path, fs, ret, flags and mode', () => {
    const seg = fc.stringMatching(/^[^/\0]{1,20}$/);
    fc.assert(
      fc.property(
        fc.array(seg, { minLength: 0, maxLength: 40 }),
        fc.constantFrom('overlay', 'proc', 'tmpfs', 'ext4', ''),
        fc.integer({ min: -4095, max: 1 << 20 }),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.integer({ min: 0, max: 0o7777 }),
        (segs, fs, ret, flags, mode) => {
          const path = '/' + segs.join('/');
          if (Buffer.byteLength(path) > 4094) return;
          const v = encode({ path, fs, ret, flags, mode, source: 1, truncated: false });
          const e = decodeFileOpen(v, 8, v.byteLength - 8, ctx);
          expect(e.path).toBe(path);
          expect(e.fs).toBe(fs);
          expect(e.ret).toBe(ret);
          expect(e.raw_flags).toBe(flags);
          expect(e.mode).toBe(mode);
          expect(e.flags).toEqual(decodeOpenFlags(flags));
        },
      ),
    );
  });
});

describe('open flags', () => {
  it('decodes the access mode and each bit', () => {
    expect(decodeOpenFlags(0)).toMatchObject({ read: true, write: false });
    expect(decodeOpenFlags(1)).toMatchObject({ read: false, write: true });
    expect(decodeOpenFlags(2)).toMatchObject({ read: true, write: true });
    expect(decodeOpenFlags(0o10000000)).toMatchObject({ read: false, write: false }); // O_PATH
    expect(decodeOpenFlags(0o100 | 0o200 | 0o1000 | 0o2000 | 0o400000)).toMatchObject({ create: true, excl: true, trunc: true, append: true, nofollow: true });
    expect(decodeOpenFlags(0o200000)).toMatchObject({ directory: true, tmpfile: false });
    // O_TMPFILE = __O_TMPFILE | O_DIRECTORY: a file, not a directory.
    expect(decodeOpenFlags(0o20000000 | 0o200000 | 1)).toMatchObject({ tmpfile: true, directory: false, write: true });
  });

  it('write opens: write access, O_CREAT, O_TRUNC or O_TMPFILE', () => {
    expect(isWriteOpen(0)).toBe(false);
    expect(isWriteOpen(0o2000000)).toBe(false);
    expect(isWriteOpen(1)).toBe(true);
    expect(isWriteOpen(2)).toBe(true);
    expect(isWriteOpen(0o100)).toBe(true);
    expect(isWriteOpen(0o1000)).toBe(true);
  });
});
