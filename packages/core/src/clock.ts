/**
 * Converts kernel CLOCK_MONOTONIC nanoseconds (bpf_ktime_get_ns) to wall-clock time.
 * process.hrtime.bigint() reads the same clock (libuv uses CLOCK_MONOTONIC), so the offset is
 * the difference of two reads; it is refreshed every few thousand conversions (and at most every
 * few seconds of use) so wall-clock adjustments (NTP) are followed.
 *
 * The hot path (`msFromParts`) works on the two 32-bit halves of the timestamp in doubles: BigInt
 * arithmetic per event cost more than the rest of header decoding together.
 */
export class KernelClock {
  /** wall-clock ms minus monotonic ms */
  private offsetMs = 0;
  private conversions = 0;

  constructor() {
    this.refresh();
  }

  refresh(): void {
    const mono = process.hrtime.bigint();
    const wall = Date.now();
    this.offsetMs = wall - Number(mono) / 1e6;
    this.conversions = 0;
  }

  /** Wall-clock ms of a kernel timestamp given as its low and high 32-bit halves. */
  msFromParts(lo: number, hi: number): number {
    if (++this.conversions > 4096) this.refresh();
    return hi * 4294.967296 + lo / 1e6 + this.offsetMs;
  }

  /** Wall-clock time of a kernel monotonic timestamp. */
  toDate(ts: bigint): Date {
    return new Date(this.msFromParts(Number(ts & 0xffffffffn), Number(ts >> 32n)));
  }

  /** Current kernel monotonic time in ns. */
  now(): bigint {
    return process.hrtime.bigint();
  }
}
