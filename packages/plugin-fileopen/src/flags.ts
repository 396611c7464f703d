/**
 * open(2) flags as the event reports them. Values are the generic Linux ones (x86_64, arm64):
 * the BPF object is built for x86_64 and records the flags exactly as the caller passed them.
 */
export const O = {
  ACCMODE: 0o3,
  RDONLY: 0o0,
  WRONLY: 0o1,
  RDWR: 0o2,
  CREAT: 0o100,
  EXCL: 0o200,
  TRUNC: 0o1000,
  APPEND: 0o2000,
  DIRECTORY: 0o200000,
  NOFOLLOW: 0o400000,
  CLOEXEC: 0o2000000,
  PATH: 0o10000000,
  /** O_TMPFILE is __O_TMPFILE | O_DIRECTORY; the bit alone identifies it. */
  TMPFILE_BIT: 0o20000000,
} as const;

export interface OpenFlags {
  read: boolean;
  write: boolean;
  create: boolean;
  trunc: boolean;
  append: boolean;
  excl: boolean;
  directory: boolean;
  cloexec: boolean;
  nofollow: boolean;
  tmpfile: boolean;
}

/** Decode raw open flags. O_PATH opens neither read nor write. */
export function decodeOpenFlags(raw: number): OpenFlags {
  const acc = raw & O.ACCMODE;
  const path = (raw & O.PATH) !== 0;
  const tmpfile = (raw & O.TMPFILE_BIT) !== 0;
  return {
    read: !path && (acc === O.RDONLY || acc === O.RDWR),
    write: !path && (acc === O.WRONLY || acc === O.RDWR),
    create: (raw & O.CREAT) !== 0,
    trunc: (raw & O.TRUNC) !== 0,
    append: (raw & O.APPEND) !== 0,
    excl: (raw & O.EXCL) !== 0,
    // O_TMPFILE carries O_DIRECTORY's bit but opens a file, not a directory.
    directory: !tmpfile && (raw & O.DIRECTORY) !== 0,
    cloexec: (raw & O.CLOEXEC) !== 0,
    nofollow: (raw & O.NOFOLLOW) !== 0,
    tmpfile,
  };
}

/**
 * Whether an open can modify the file: write access, O_CREAT, O_TRUNC or O_TMPFILE. Must match
 * is_write_open() in bpf/fileopen.bpf.c (only-writes mode and the deny list's read/write split).
 */
export function isWriteOpen(raw: number): boolean {
  return (raw & O.ACCMODE) !== 0 || (raw & (O.CREAT | O.TRUNC | O.TMPFILE_BIT)) !== 0;
}
