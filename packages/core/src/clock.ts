/**
 * Converts kernel CLOCK_MONOTONIC nanoseconds (bpf_ktime_get_ns) to wall-clock Dates.
 * process.hrtime.bigint() reads the same clock (libuv uses CLOCK_MONOTONIC), so the offset is
 * the difference of two reads; it is refreshed so wall-clock adjustments (NTP) are followed.
 */
export class KernelClock {
  private offsetNs = 0n;
  private refreshedAt = 0;

  constructor() {
    this.refresh();
  }

  refresh(): void {
    const mono = process.hrtime.bigint();
    const wallNs = BigInt(Date.now()) * 1_000_000n;
    this.offsetNs = wallNs - mono;
    this.refreshedAt = Date.now();
  }

  /** Wall-clock time of a kernel monotonic timestamp. */
  toDate(ts: bigint): Date {
    if (Date.now() - this.refreshedAt > 10_000) this.refresh();
    return new Date(Number((ts + this.offsetNs) / 1_000_000n));
  }

  /** Current kernel monotonic time in ns. */
  now(): bigint {
    return process.hrtime.bigint();
  }
}
