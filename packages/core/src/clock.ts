/**
 * Converts kernel CLOCK_MONOTONIC nanoseconds (bpf_ktime_get_ns) to wall-clock time.
 * process.hrtime.bigint() reads the same clock (libuv uses CLOCK_MONOTONIC), so the offset is
 * the difference of two reads; it is refreshed every few thousand conversions (and at most every
 * few seconds of use) so wall-clock adjustments (NTP) are followed.
 *
 * The hot path (`msFromParts`) works on the two 32-bit halves of the timestamp in doubles: BigInt
 * arithmetic per event cost more than the rest of header decoding together.
 */
const EDGE_NS = 1000;

export class KernelClock {
  /** wall-clock ms minus monotonic ms */
  private offsetMs = 0;
  private conversions = 0;
  // The last Date handed out, shared by every event of the same millisecond (see dateFromParts).
  private lastDateMs = Number.NaN;
  private lastDate = new Date(0);
  // Kernel ns (as a double) of the millisecond lastDate stands for: [start, end).
  private windowStartNs = 0;
  private windowEndNs = 0;

  constructor() {
    this.refresh();
  }

  refresh(): void {
    const mono = process.hrtime.bigint();
    const wall = Date.now();
    this.offsetMs = wall - Number(mono) / 1e6;
    this.conversions = 0;
    // The next dateFromParts computes its window with the new offset.
    this.windowStartNs = 0;
    this.windowEndNs = 0;
  }

  /** Wall-clock ms of a kernel timestamp given as its low and high 32-bit halves. */
  msFromParts(lo: number, hi: number): number {
    if (++this.conversions > 4096) this.refresh();
    return hi * 4294.967296 + lo / 1e6 + this.offsetMs;
  }

  /**
   * Wall-clock time of a kernel timestamp given as its two 32-bit halves. Events of the same
   * millisecond share one Date (a Date has ms precision, and building one costs ~30 ns, as much as
   * the rest of the header): treat event times as immutable. A timestamp inside the kernel-time
   * window of the last Date returns it after two comparisons.
   */
  dateFromParts(lo: number, hi: number): Date {
    // Exact below 2^53 ns (104 days of uptime); past that the error is a few ns, far below 1 ms.
    const ns = hi * 4294967296 + lo;
    // The window is answered only 1 µs away from its edges: msFromParts' sum is exact to ~250 ns
    // at today's epoch ms, so near an edge only it decides (the answer depends on the timestamp
    // alone, not on which window the previous record left).
    if (ns >= this.windowStartNs + EDGE_NS && ns < this.windowEndNs - EDGE_NS) return this.lastDate;
    return this.newDate(lo, hi);
  }

  private newDate(lo: number, hi: number): Date {
    const ms = Math.trunc(this.msFromParts(lo, hi));
    if (ms !== this.lastDateMs) {
      this.lastDateMs = ms;
      this.lastDate = new Date(ms);
    }
    // The kernel-time span that maps to `ms` with the current offset.
    this.windowStartNs = (ms - this.offsetMs) * 1e6;
    this.windowEndNs = this.windowStartNs + 1e6;
    return this.lastDate;
  }

  /** Wall-clock time of a kernel monotonic timestamp. */
  toDate(ts: bigint): Date {
    return this.dateFromParts(Number(ts & 0xffffffffn), Number(ts >> 32n));
  }

  /** Current kernel monotonic time in ns. */
  now(): bigint {
    return process.hrtime.bigint();
  }
}
