import { BoxwatchError, configError } from './errors.js';
import { native, type NativeRingBuffer } from './native.js';
import type { BpfMap } from './map.js';
import { wrapNativeError } from './map.js';

/** Called once per record: the record's bytes are view[offset, offset + length). Decode synchronously. */
export type RecordHandler = (view: DataView, offset: number, length: number) => void;

export interface RingBufferOptions {
  /**
   * Drain interval in ms (default 10): producers submit without wakeups below a quarter full, so
   * records wait up to this long. A staged reader's quiet ring stops the timer (see idleFlagMapFd).
   */
  drainMs?: number;
  /**
   * Most records handled per drain slice before yielding to the event loop (default 4096, a few ms
   * of decoding): a producer faster than the handler cannot starve timers and I/O (sinks' writes,
   * the control API).
   */
  maxRecordsPerSlice?: number;
  /**
   * Bytes of the userspace staging buffer (a power of two, at least the page size; default: the
   * larger of 4 MiB and the ring). A native drain thread copies records out of the kernel's ring
   * into it as soon as producers wake it, so pauses of the JS thread (garbage collection, a long
   * handler, a busy detector) cost staging headroom instead of kernel ring headroom. 0 reads the
   * records in the kernel's ring on the JS thread: no thread and less CPU per record, but a JS
   * pause longer than the ring's fill time loses records.
   */
  stagingBytes?: number;
  /**
   * Run the drain thread at SCHED_FIFO priority 1 (default true), as `perf record -r` does: woken
   * by a producer, it preempts the producers at once instead of queueing behind them on a busy
   * machine; its work per wakeup is one copy bounded by the ring's size, and while the staging
   * buffer is full it waits for the JS side only. Needs CAP_SYS_NICE (and real-time runtime in its
   * cgroup); without it the thread runs at normal priority and stats().realtimeDrain is false.
   */
  realtimeDrain?: boolean;
  /**
   * fd of the ring's consumer flag map (BW_RINGBUF's `<name>_idle`; BpfObject.ringBuffer passes
   * it). With it, a quiet drain thread stops its timer and lets the kernel wake it for the next
   * record; without it (objects built before the flag) it drains every drainMs.
   */
  idleFlagMapFd?: number;
  /** The per-CPU lost-events counter map (BW_RINGBUF's `<name>_lost`). */
  lostCounter?: BpfMap<number, bigint>;
  /** Called when the handler throws; the record is counted in decodeErrors and skipped. */
  onError?: (err: unknown) => void;
}

export interface RingBufferStats {
  records: number;
  batches: number;
  /** Times a producer forced a wakeup (the buffer was past its fill threshold between drains). */
  wakeups: number;
  /** Drains that hit the slice budget and continued on the next event-loop turn. */
  slicesDeferred: number;
  /** Size of the staging buffer; 0 when records are read in the kernel's ring. */
  stagingBytes: number;
  /** The drain thread runs at real-time priority (asked for and granted). */
  realtimeDrain: boolean;
  /** Times the drain thread went idle: no records for a few ticks, timer stopped, woken by the next record. */
  idleSpells: number;
  /**
   * Times the staging buffer filled up (the JS side fell a whole staging buffer behind): records
   * then wait in the kernel ring until the JS side makes room, and what the ring cannot hold is
   * `lost`.
   */
  stagingFull: number;
  /** Records the kernel could not reserve, summed over CPUs. */
  lost: number;
  /**
   * Those of `lost` for which the buffer still had room (checked right after the failure): lost
   * to the reserve itself failing (its lock given up under contention, an NMI's trylock, a record
   * still being written a whole ring back), not to a slow consumer. Approximate: a drain between
   * failure and check counts a full-buffer loss here. Only BW_RESERVE fills it: losses counted
   * with BW_COUNT_LOST (bpf_ringbuf_output failures, other drop paths) are in `lost` alone. 0 for
   * objects built before the counter had this slot.
   */
  lostWithRoom: number;
  /** Records whose handler threw. */
  decodeErrors: number;
}

// The kernel's record framing: [u32 length | busy bit 31 | discard bit 30][u32 page offset][bytes,
// padded to 8]. The native side hands over only committed records, so the busy bit is never set.
const RECORD_HEADER = 8;
const DISCARD_BIT = 0x40000000;
const LENGTH_MASK = 0x3fffffff;

/**
 * Consumes a BPF ring buffer: the native side hands JS batches of committed records in place (a
 * view of the ring's own pages, no copy) and this class walks them and calls the handler per
 * record. The view is only valid during the handler call: the space is given back to the
 * producer as soon as the batch returns.
 */
export class RingBufferReader {
  private handle: NativeRingBuffer | null;
  private decodeErrors = 0;

  constructor(
    readonly mapName: string,
    mapFd: number,
    handler: RecordHandler,
    private readonly options: RingBufferOptions = {},
  ) {
    let view: DataView | null = null;
    let viewOf: ArrayBuffer | null = null;
    const onError = options.onError;
    const onBatch = (buffer: ArrayBuffer, start: number, end: number): void => {
      if (viewOf !== buffer) {
        view = new DataView(buffer);
        viewOf = buffer;
      }
      const v = view as DataView;
      let off = start;
      while (off < end && this.handle !== null) {
        const word = v.getUint32(off, true);
        const len = word & LENGTH_MASK;
        if ((word & DISCARD_BIT) === 0) {
          try {
            handler(v, off + RECORD_HEADER, len);
          } catch (err) {
            this.decodeErrors++;
            onError?.(err);
          }
        }
        off += (len + RECORD_HEADER + 7) & ~7;
      }
    };
    const stagingBytes = options.stagingBytes === undefined ? undefined : checkStagingBytes(mapName, options.stagingBytes);
    try {
      this.handle = new (native().RingBuffer)(mapFd, onBatch, {
        drainMs: options.drainMs ?? 10,
        maxRecordsPerSlice: options.maxRecordsPerSlice ?? 4096,
        ...(stagingBytes === undefined ? {} : { stagingBytes }),
        realtimeDrain: options.realtimeDrain ?? true,
        ...(options.idleFlagMapFd === undefined ? {} : { idleMapFd: options.idleFlagMapFd }),
      });
    } catch (err) {
      throw wrapNativeError(err, `ring buffer ${mapName}`);
    }
  }

  private live(): NativeRingBuffer {
    if (!this.handle) throw new BoxwatchError('ERR_CLOSED', `ring buffer ${this.mapName} is closed`);
    return this.handle;
  }

  /**
   * Stop delivering records to the handler. They accumulate in the staging buffer, then in the
   * kernel's ring, and are lost once both are full.
   */
  pause(): void {
    this.live().pause();
  }

  resume(): void {
    this.live().resume();
  }

  /**
   * Consume what is available now, at most `maxSlices` slices of maxRecordsPerSlice records
   * (default: until empty, up to 64 slices); returns the number of records.
   */
  drain(maxSlices = 64): number {
    return this.live().drain(maxSlices);
  }

  /** Records lost in the kernel (reserve failed), summed over CPUs. */
  lost(): number {
    return this.lostSlot(0);
  }

  /** Slot `slot` of the per-CPU lost counter (BW_LOST_ALL, BW_LOST_WITH_ROOM), summed over CPUs. */
  private lostSlot(slot: number): number {
    const counter = this.options.lostCounter;
    if (!counter || slot >= counter.maxEntries) return 0;
    const per = counter.lookupPerCpu(slot);
    return per ? Number(per.reduce((a, b) => a + b, 0n)) : 0;
  }

  stats(): RingBufferStats {
    const s = this.handle?.stats() ?? { records: 0, batches: 0, wakeups: 0, slicesDeferred: 0, stagingBytes: 0, realtimeDrain: false, idleSpells: 0, stagingFull: 0 };
    const live = this.handle !== null;
    return { ...s, lost: live ? this.lost() : 0, lostWithRoom: live ? this.lostSlot(1) : 0, decodeErrors: this.decodeErrors };
  }

  /** Stop and free; idempotent. Does not drain (call drain() first to get the last records). */
  close(): void {
    if (this.handle) {
      this.handle.close();
      this.handle = null;
    }
  }
}

const STAGING_RULE = 'must be 0 or a power of two from 4096 to 2^31';
const validStagingBytes = (bytes: unknown): bytes is number =>
  bytes === 0 || (typeof bytes === 'number' && Number.isInteger(bytes) && bytes >= 4096 && bytes <= 2 ** 31 && (bytes & (bytes - 1)) === 0);

/** stagingBytes must be 0 or a power of two from the page size (4 KiB) to 2 GiB. */
function checkStagingBytes(mapName: string, bytes: number): number {
  if (!validStagingBytes(bytes)) throw configError('stagingBytes', `${STAGING_RULE} (ring buffer ${mapName}), got ${bytes}`);
  return bytes;
}

/**
 * How a plugin's ring buffers are read: its `ringBuffer` option, applied to each of its readers.
 * `stagingBytes`: the userspace staging buffer the native drain thread fills (default the larger of
 * 4 MiB and the ring; 0 reads in place on the JS thread). `realtimeDrain`: the drain thread at
 * SCHED_FIFO 1 (default true). Details at RingBufferOptions.
 */
export type RingBufferTuning = Pick<RingBufferOptions, 'stagingBytes' | 'realtimeDrain'>;

/**
 * Validates a plugin's `ringBuffer` option ({ stagingBytes?, realtimeDrain? }); errors name the
 * field as `<field>.stagingBytes` and so on.
 */
export function resolveRingBufferTuning(value: unknown, field = 'ringBuffer'): RingBufferTuning {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw configError(field, `must be an object with stagingBytes and/or realtimeDrain, got ${JSON.stringify(value)}`);
  const out: RingBufferTuning = {};
  for (const [k, v] of Object.entries(value)) {
    if (k === 'stagingBytes') {
      if (!validStagingBytes(v)) throw configError(`${field}.stagingBytes`, `${STAGING_RULE}, got ${JSON.stringify(v)}`);
      out.stagingBytes = v;
    } else if (k === 'realtimeDrain') {
      if (typeof v !== 'boolean') throw configError(`${field}.realtimeDrain`, `must be a boolean, got ${JSON.stringify(v)}`);
      out.realtimeDrain = v;
    } else {
      throw configError(`${field}.${k}`, 'unknown option (stagingBytes, realtimeDrain)');
    }
  }
  return out;
}
