/**
 * A kernel accounting file kept open and re-read with one `pread(fd, buf, 0)` per sample.
 *
 * cgroup and procfs files are seq_files: reading at offset 0 regenerates their content, so an open
 * descriptor gives fresh values at the cost of a single syscall (and one thread-pool hop) instead of
 * open + fstat + read + close. When the cgroup is removed the kernel answers ENODEV, which is how a
 * container that stopped mid-interval is noticed.
 */
import { close, open, read } from 'node:fs';

/** Errors that mean "the container (or its process) is gone", not a fault of ours. */
const VANISHED_CODES = new Set(['ENOENT', 'ENODEV', 'ESRCH']);

export function isVanished(err: unknown): boolean {
  return typeof err === 'object' && err !== null && VANISHED_CODES.has((err as { code?: string }).code ?? '');
}

export class PinnedFile {
  private fd: number | null;
  private buf: Buffer;

  private constructor(
    readonly path: string,
    fd: number,
    initialSize: number,
  ) {
    this.fd = fd;
    this.buf = Buffer.allocUnsafe(initialSize);
  }

  /** Opens `path` read-only. Rejects like fs.open (ENOENT when it does not exist). */
  static open(path: string, initialSize = 256): Promise<PinnedFile> {
    return new Promise((resolve, reject) => {
      open(path, 'r', (err, fd) => (err ? reject(err) : resolve(new PinnedFile(path, fd, initialSize))));
    });
  }

  /** Opens `path`, or resolves null when it does not exist (a controller or file this kernel lacks). */
  static async openOptional(path: string, initialSize = 256): Promise<PinnedFile | null> {
    try {
      return await PinnedFile.open(path, initialSize);
    } catch (err) {
      if ((err as { code?: string }).code === 'ENOENT') return null;
      throw err;
    }
  }

  /** The whole file as text. A read that fills the buffer may be truncated: grow and read again. */
  async readText(): Promise<string> {
    for (;;) {
      const n = await this.pread();
      if (n < this.buf.length) return this.buf.toString('latin1', 0, n);
      this.buf = Buffer.allocUnsafe(this.buf.length * 2);
    }
  }

  private pread(): Promise<number> {
    const fd = this.fd;
    if (fd === null) return Promise.reject(Object.assign(new Error(`${this.path}: closed`), { code: 'ENODEV' }));
    return new Promise((resolve, reject) => {
      read(fd, this.buf, 0, this.buf.length, 0, (err, n) => (err ? reject(err) : resolve(n)));
    });
  }

  /** Idempotent. */
  close(): Promise<void> {
    const fd = this.fd;
    if (fd === null) return Promise.resolve();
    this.fd = null;
    return new Promise((resolve) => close(fd, () => resolve()));
  }
}
