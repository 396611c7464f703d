import { describe, expect, it } from 'vitest';
import { createEvent, type EventHeader, type IEvent } from '@boxwatch/core';
import { DetectorSink, type Detector } from '@boxwatch/detector';

const header = (ms: number, tsNs: bigint): EventHeader => ({ time: new Date(ms), ts: tsNs, host: 'h', container: null, cgroupId: 0n, pid: 1, tid: 1, comm: 'sh' });

/** Records what the detector is handed (the sink's contract with it is `ingest`). */
function recorder(): { detector: Detector; seen: IEvent[] } {
  const seen: IEvent[] = [];
  return { detector: { ingest: (e: IEvent) => void seen.push(e) } as unknown as Detector, seen };
}

describe('DetectorSink', () => {
  it('hands events to the detector in time order even when plugins deliver them out of order', async () => {
    const { detector, seen } = recorder();
    const sink = new DetectorSink(detector, { reorderMs: 30 });
    const now = Date.now();
    // The exec (drained first, from the syscall plugin) happened after the connect (cnetwork).
    sink.write(createEvent('process.exec', header(now, 5_000_900_000n), {}));
    sink.write(createEvent('net.connect', header(now, 5_000_100_000n), {}));
    sink.write(createEvent('file.open', header(now - 1, 4_999_000_000n), {}));
    await new Promise((r) => setTimeout(r, 120));
    expect(seen.map((e) => e.type)).toEqual(['file.open', 'net.connect', 'process.exec']);
    await sink.close();
  });

  it('ingests everything held when flushed, and counts what it could not queue', async () => {
    const { detector, seen } = recorder();
    const sink = new DetectorSink(detector, { reorderMs: 10_000, maxQueue: 2 });
    for (let i = 0; i < 3; i++) sink.write(createEvent('x.y', header(Date.now(), BigInt(i)), {}));
    expect(seen).toHaveLength(0);
    await sink.flush();
    expect(seen).toHaveLength(2);
    expect(sink.stats()).toMatchObject({ received: 3, delivered: 2, dropped: 1, queued: 0 });
    await sink.close();
  });
});
