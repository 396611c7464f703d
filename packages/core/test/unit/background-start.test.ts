import { describe, expect, it } from 'vitest';
import { BackgroundStartSink, createEvent, emptySinkStats, type IEvent, type Sink } from '@boxwatch/core';

/** A destination that refuses to start `failures` times, and keeps what it is given. */
class FlakyDestination implements Sink {
  readonly name = 'flaky';
  starts = 0;
  closed = false;
  readonly got: IEvent[] = [];
  constructor(private failures: number) {}
  async start() {
    this.starts++;
    if (this.failures-- > 0) throw new Error('connect ECONNREFUSED');
  }
  write(e: IEvent) {
    this.got.push(e);
  }
  async close() {
    this.closed = true;
  }
  stats() {
    return { ...emptySinkStats(), received: this.got.length };
  }
}

const ev = () => createEvent('x.y', { time: new Date(), ts: 0n, host: 'h', container: null, cgroupId: 0n, pid: 1, tid: 1, comm: 'c' }, {});

describe('BackgroundStartSink', () => {
  it('returns from start at once, retries with backoff until the destination starts, and passes events through meanwhile', async () => {
    const dest = new FlakyDestination(2);
    const sink = new BackgroundStartSink(dest, { initialDelayMs: 10 });
    await sink.start();
    expect(sink.running).toBe(false);
    sink.write(ev());
    await new Promise((r) => setTimeout(r, 100));
    expect(dest.starts).toBe(3);
    expect(sink.running).toBe(true);
    sink.write(ev());
    expect(dest.got).toHaveLength(2);
    expect(sink.stats().received).toBe(2);
    await sink.close();
    expect(dest.closed).toBe(true);
  });

  it('stops retrying once closed', async () => {
    const dest = new FlakyDestination(1000);
    const sink = new BackgroundStartSink(dest, { initialDelayMs: 5 });
    await sink.start();
    await sink.close();
    const starts = dest.starts;
    await new Promise((r) => setTimeout(r, 50));
    expect(dest.starts).toBe(starts);
  });
});
