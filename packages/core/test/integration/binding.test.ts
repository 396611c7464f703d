import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { BpfObject, BoxwatchError, codec, MapType, numPossibleCpus, libbpfVersion } from '@boxwatch/core';
import { test_record as R } from '../generated/test-record.js';
import {
  BAD_OBJECT,
  decodeTestRecord,
  getppidTimes,
  loadTestObject,
  SYS_GETPPID,
  TAIL_HITS_KEY,
  TEST_OBJECT,
  type TestRecord,
} from '../helpers/test-object.js';

const open: BpfObject[] = [];
afterEach(() => {
  for (const o of open.splice(0)) o.close();
});
const sleepAsync = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Block the JS thread (a stalled consumer) while other threads run. */
function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function track(o: BpfObject): BpfObject {
  open.push(o);
  return o;
}

describe('BpfObject spec (before load)', () => {
  it('lists programs, maps and globals of the ELF', () => {
    const o = track(BpfObject.open(TEST_OBJECT));
    expect(o.programs().map((p) => [p.name, p.section])).toEqual(
      expect.arrayContaining([
        ['on_sys_enter', 'tp_btf/sys_enter'],
        ['tail_target', 'tp_btf/sys_enter'],
      ]),
    );
    const maps = Object.fromEntries(o.maps().map((m) => [m.name, m]));
    expect(maps.events?.type).toBe(MapType.RINGBUF);
    expect(maps.events_lost?.type).toBe(MapType.PERCPU_ARRAY);
    expect(maps.events_idle).toMatchObject({ type: MapType.ARRAY, keySize: 4, valueSize: 4, maxEntries: 1 });
    expect(maps.kv).toMatchObject({ type: MapType.HASH, keySize: 4, valueSize: 8, maxEntries: 1024 });
    expect(o.globals().map((g) => g.name).sort()).toEqual(['discard_every', 'include_containers', 'magic', 'target_tgid', 'use_small']);
  });

  it('rejects unknown globals and values that do not fit', () => {
    const o = track(BpfObject.open(TEST_OBJECT));
    expect(() => o.setGlobals({ no_such_var: 1 })).toThrow(/no global variable 'no_such_var'/);
    const tooBig = (() => {
      try {
        o.setGlobals({ target_tgid: 2 ** 40 });
      } catch (e) {
        return e as BoxwatchError;
      }
    })();
    expect(tooBig).toBeInstanceOf(BoxwatchError);
    expect(tooBig?.code).toBe('ERR_CONFIG');
    expect(tooBig?.field).toBe('target_tgid');
  });

  it('refuses kernel operations before load and configuration after load', () => {
    const o = track(BpfObject.open(TEST_OBJECT));
    expect(() => o.map('kv')).toThrow(/load\(\) first/);
    expect(() => o.attach('on_sys_enter')).toThrow(/load\(\) first/);
    o.setGlobals({ target_tgid: process.pid });
    o.load();
    expect(() => o.setGlobals({ magic: 1 })).toThrow(/before load/);
    expect(() => o.setAutoload('tail_target', false)).toThrow(/before load/);
  });
});

describe('ring buffer', () => {
  it('delivers exactly N records, in order per CPU, with the rodata value set before load', () => {
    const o = track(loadTestObject({ magic: 0xfeedfacecafebeefn }));
    const got: TestRecord[] = [];
    const rb = o.ringBuffer('events', (v, off, len) => {
      expect(len).toBe(R.size);
      got.push(decodeTestRecord(v, off));
    });
    // The 256 KiB buffer holds 2,048 of these 128-byte frames: produce in rounds that fit, so
    // the test checks delivery, not overflow (that is the stalled-consumer test).
    const N = 20_000;
    for (let round = 0; round < 20; round++) {
      getppidTimes(N / 20);
      rb.drain();
    }
    expect(got.length).toBe(N);
    expect(rb.stats()).toMatchObject({ records: N, lost: 0, decodeErrors: 0 });
    for (const r of got) {
      expect(r.magic).toBe(0xfeedfacecafebeefn);
      expect(r.syscall).toBe(SYS_GETPPID);
      expect(r.tgid).toBe(process.pid);
    }
    const lastSeq = new Map<number, bigint>();
    for (const r of got) {
      const prev = lastSeq.get(r.cpu) ?? 0n;
      expect(r.seq).toBe(prev + 1n);
      lastSeq.set(r.cpu, r.seq);
    }
  });

  it('drains on its timer without an explicit drain()', async () => {
    const o = track(loadTestObject());
    let n = 0;
    o.ringBuffer('events', () => n++, { drainMs: 5 });
    getppidTimes(100);
    await new Promise((r) => setTimeout(r, 100));
    expect(n).toBe(100);
  });

  it('counts every record lost while the consumer is stalled: received + lost = sent', () => {
    const o = track(loadTestObject({ use_small: true }));
    let received = 0;
    // Read in place: with nothing staging them, every record past the 4 KiB ring is lost.
    const rb = o.ringBuffer('small_events', () => received++, { stagingBytes: 0 });
    rb.pause();
    const sent = 2_000;
    getppidTimes(sent);
    rb.resume();
    rb.drain();
    const lost = rb.lost();
    expect(lost).toBeGreaterThan(0);
    expect(received).toBeGreaterThan(0);
    expect(received + lost).toBe(sent);
    // The consumer was paused: every loss was to a full buffer, none "with room" (the counter has
    // its second slot, so 0 is a count, not the fallback for one-slot objects).
    expect(o.maps().find((m) => m.name === 'small_events_lost')?.maxEntries).toBe(2);
    expect(rb.stats()).toMatchObject({ lost, lostWithRoom: 0 });
  });

  it('stages records on its drain thread while the JS side is stalled, where reading in place loses them', () => {
    // 10 rounds of 1,000 records: 10,000 x 128-byte frames = 1.25 MiB, five times the 256 KiB
    // ring, but within the default 4 MiB staging buffer. Between rounds the JS thread sleeps
    // (Atomics.wait) while the consumer is paused: only the drain thread can move records.
    const stalledRun = (stagingBytes?: number) => {
      const o = track(loadTestObject());
      let received = 0;
      const rb = o.ringBuffer('events', () => received++, { drainMs: 5, ...(stagingBytes === undefined ? {} : { stagingBytes }) });
      rb.pause();
      for (let round = 0; round < 10; round++) {
        getppidTimes(1000);
        sleepSync(30);
      }
      rb.resume();
      while (rb.drain() > 0);
      const stats = rb.stats();
      o.close();
      return { received, stats };
    };
    const staged = stalledRun();
    expect(staged.stats.stagingBytes).toBe(4 << 20);
    expect(staged).toMatchObject({ received: 10_000, stats: { lost: 0, stagingFull: 0 } });
    const inPlace = stalledRun(0);
    expect(inPlace.stats.stagingBytes).toBe(0);
    expect(inPlace.stats.lost).toBeGreaterThan(0);
    expect(inPlace.received + inPlace.stats.lost).toBe(10_000);
  });

  it('counts a full staging buffer, keeps the rest waiting in the kernel ring and loses only what neither holds', () => {
    const o = track(loadTestObject());
    let received = 0;
    const seqs = new Set<string>();
    // The smallest staging buffer (4 KiB: 32 frames) in front of the 256 KiB ring (2,048 frames).
    const rb = o.ringBuffer('events', (v, off) => (received++, seqs.add(`${decodeTestRecord(v, off).cpu}/${decodeTestRecord(v, off).seq}`)), { drainMs: 5, stagingBytes: 4096 });
    rb.pause();
    for (let round = 0; round < 5; round++) {
      getppidTimes(1000);
      sleepSync(30);
    }
    expect(rb.stats().stagingFull).toBeGreaterThan(0);
    rb.resume();
    while (rb.drain() > 0);
    const { lost } = rb.stats();
    expect(received).toBe(seqs.size); // nothing delivered twice
    expect(received).toBeGreaterThanOrEqual(2048 + 32 - 64); // the ring and the staging buffer were full
    expect(received).toBeLessThan(5000);
    expect(received + lost).toBe(5000);
  });

  it('runs its drain thread at SCHED_FIFO 1 by default and at normal priority when asked to', () => {
    // Policy is field 41 of /proc/<pid>/task/<tid>/stat (0 SCHED_OTHER, 1 SCHED_FIFO); comm is
    // in parentheses and has no spaces here ("bw-ring-drain").
    const drainThreads = () =>
      readdirSync('/proc/self/task')
        .filter((t) => readFileSync(`/proc/self/task/${t}/comm`, 'utf8').trim() === 'bw-ring-drain')
        .map((t) => Number(readFileSync(`/proc/self/task/${t}/stat`, 'utf8').split(') ')[1]!.split(' ')[38]));
    expect(drainThreads()).toEqual([]);
    const o = track(loadTestObject());
    const rt = o.ringBuffer('events', () => {});
    const normal = o.ringBuffer('small_events', () => {}, { realtimeDrain: false });
    // Whether this process may use SCHED_FIFO at all (CAP_SYS_NICE, RT runtime in its cgroup):
    // the same request from a child in the same cgroup. Where it may not, the fallback is checked.
    let rtAllowed = true;
    try {
      execFileSync('chrt', ['-f', '1', 'true'], { stdio: 'pipe' });
    } catch (err) {
      rtAllowed = false;
      console.log(`SCHED_FIFO not allowed here (${String((err as { stderr?: Buffer }).stderr ?? err).trim()}): checking the normal-priority fallback`);
    }
    expect(rt.stats().realtimeDrain).toBe(rtAllowed);
    expect(normal.stats().realtimeDrain).toBe(false);
    expect(drainThreads().sort()).toEqual(rtAllowed ? [0, 1] : [0, 0]);
    rt.close();
    normal.close();
    expect(drainThreads()).toEqual([]); // joined on close
  });

  it('stops its drain timer while the ring is quiet, and the kernel wakes it for the next record', async () => {
    const o = track(loadTestObject());
    let n = 0;
    const rb = o.ringBuffer('events', () => n++, { drainMs: 5 });
    const until = async (what: () => boolean) => {
      for (let i = 0; i < 200 && !what(); i++) await sleepAsync(10);
      expect(what()).toBe(true);
    };
    getppidTimes(10);
    await until(() => n === 10);
    // Three empty 5 ms ticks, then idle: the thread sets the ring's flag and stops its timer.
    await until(() => rb.stats().idleSpells >= 1);
    const [tid] = readdirSync('/proc/self/task').filter((t) => readFileSync(`/proc/self/task/${t}/comm`, 'utf8').trim() === 'bw-ring-drain');
    const switches = () => Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(readFileSync(`/proc/self/task/${tid}/status`, 'utf8'))![1]);
    const before = switches();
    await sleepAsync(500);
    // With the 5 ms timer running it would be ~100; idle, only its 250 ms checks remain.
    expect(switches() - before).toBeLessThan(10);
    const wakeups = rb.stats().wakeups;
    getppidTimes(1);
    await until(() => n === 11);
    // Delivered through a kernel wakeup (the record at the consumer's position), not a check tick.
    expect(rb.stats().wakeups).toBeGreaterThan(wakeups);
    expect(rb.stats().lost).toBe(0);
  });

  it('rejects a staging size that is not 0 or a power of two, naming the option', () => {
    const o = track(loadTestObject());
    expect(() => o.ringBuffer('events', () => {}, { stagingBytes: 3 << 20 })).toThrow(
      expect.objectContaining({ code: 'ERR_CONFIG', field: 'stagingBytes', message: expect.stringMatching(/^stagingBytes: must be 0 or a power of two .*\(ring buffer events\), got 3145728$/) }),
    );
    expect(() => o.ringBuffer('events', () => {}, { stagingBytes: 2048 })).toThrow(/stagingBytes/);
  });

  it('drains in bounded slices so a fast producer cannot starve the event loop', async () => {
    const o = track(loadTestObject());
    let n = 0;
    const rb = o.ringBuffer('events', () => n++, { maxRecordsPerSlice: 100, drainMs: 1000 });
    getppidTimes(1000);
    expect(rb.drain(1)).toBe(100);
    expect(n).toBe(100);
    expect(rb.drain(3)).toBe(300);
    expect(n).toBe(400);
    // The scheduled path continues on later event-loop turns until everything is delivered.
    getppidTimes(1000);
    const deadline = Date.now() + 5000;
    while (n < 2000 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(n).toBe(2000);
    expect(rb.stats().slicesDeferred).toBeGreaterThan(0);
    expect(rb.stats().lost).toBe(0);
  });

  it('skips records the program discarded and delivers the rest in order', () => {
    const o = track(loadTestObject({ discard_every: 3 }));
    const seqs: bigint[] = [];
    const rb = o.ringBuffer('events', (v, off) => seqs.push(decodeTestRecord(v, off).seq));
    getppidTimes(1500); // 1,500 reserved records fit the 256 KiB ring: nothing is lost
    rb.drain();
    expect(seqs).toHaveLength(1000);
    expect(seqs.some((s) => s % 3n === 0n)).toBe(false);
    expect(rb.stats()).toMatchObject({ records: 1000, lost: 0 });
  });

  it('stops delivering when the handler closes the reader, and a view kept past close throws instead of reading freed pages', () => {
    const o = track(loadTestObject());
    let kept: DataView | null = null;
    let n = 0;
    const rb = o.ringBuffer('events', (v) => {
      kept = v;
      if (++n === 10) rb.close();
    });
    getppidTimes(100);
    expect(() => rb.drain()).not.toThrow();
    expect(n).toBe(10);
    expect(kept).not.toBeNull();
    expect(() => (kept as unknown as DataView).getUint32(0, true)).toThrow(TypeError);
    expect(() => rb.drain()).toThrow(expect.objectContaining({ code: 'ERR_CLOSED' }));
  });

  it('ignores a drain() called from inside its own handler instead of delivering records twice', () => {
    const o = track(loadTestObject());
    const seqs: bigint[] = [];
    let nested = -1;
    const rb = o.ringBuffer('events', (v, off) => {
      seqs.push(decodeTestRecord(v, off).seq);
      if (seqs.length === 1) nested = rb.drain();
    });
    getppidTimes(50);
    rb.drain();
    expect(nested).toBe(0);
    expect(seqs).toHaveLength(50);
    expect(new Set(seqs.map(String)).size).toBe(50);
  });

  it('keeps going when the record handler throws, counting the failures', () => {
    const o = track(loadTestObject());
    let calls = 0;
    const errors: unknown[] = [];
    const rb = o.ringBuffer(
      'events',
      () => {
        calls++;
        if (calls % 2 === 0) throw new Error('decoder bug');
      },
      { onError: (e) => errors.push(e) },
    );
    getppidTimes(10);
    rb.drain();
    expect(calls).toBe(10);
    expect(rb.stats().decodeErrors).toBe(5);
    expect(errors).toHaveLength(5);
  });
});

describe('maps', () => {
  it('counts in the kernel and supports lookup, update, delete and iteration', () => {
    const o = track(loadTestObject());
    const kv = o.map('kv', codec.u32, codec.u64);
    getppidTimes(123);
    expect(kv.lookup(SYS_GETPPID)).toBe(123n);
    kv.update(7, 70n);
    kv.update(8, 80n);
    expect(new Map(kv.entries())).toEqual(
      new Map([
        [SYS_GETPPID, 123n],
        [7, 70n],
        [8, 80n],
      ]),
    );
    expect(kv.delete(7)).toBe(true);
    expect(kv.delete(7)).toBe(false);
    expect(kv.lookup(7)).toBeUndefined();
    expect([...kv.keys()].sort((a, b) => a - b)).toEqual([8, SYS_GETPPID]);
  });

  it('drains a hash map atomically with batch lookup-and-delete', () => {
    const o = track(loadTestObject());
    const kv = o.map('kv', codec.u32, codec.u64);
    for (let i = 0; i < 500; i++) kv.update(2000 + i, BigInt(i));
    const drained = kv.drainBatch(64);
    expect(drained).toHaveLength(500);
    expect(new Set(drained.map(([k]) => k)).size).toBe(500);
    for (const [k, [v]] of drained) expect(v).toBe(BigInt(k - 2000));
    expect([...kv.keys()]).toEqual([]);
  });

  it('reads per-CPU values, one slot per possible CPU', () => {
    const o = track(loadTestObject());
    const seq = o.map('seq_per_cpu', codec.u32, codec.u64);
    expect(seq.perCpu).toBe(true);
    getppidTimes(50);
    const perCpu = seq.lookupPerCpu(0);
    expect(perCpu).toHaveLength(numPossibleCpus());
    expect(perCpu?.reduce((a, b) => a + b, 0n)).toBe(50n);
    expect(() => seq.lookup(0)).toThrow(/per-CPU/);
  });

  it('checks codec sizes against the map', () => {
    const o = track(loadTestObject());
    expect(() => o.map('kv', codec.u64, codec.u64)).toThrow(/key codec is 8 bytes, the map's key is 4/);
  });

  it('dispatches tail calls through a PROG_ARRAY filled from userspace', () => {
    const o = track(loadTestObject());
    const kv = o.map('kv', codec.u32, codec.u64);
    process.getuid?.();
    expect(kv.lookup(TAIL_HITS_KEY)).toBeUndefined();
    o.setTailCall('jmp', 0, 'tail_target');
    for (let i = 0; i < 5; i++) process.getuid?.();
    expect(kv.lookup(TAIL_HITS_KEY)).toBe(5n);
    o.clearTailCall('jmp', 0);
    process.getuid?.();
    expect(kv.lookup(TAIL_HITS_KEY)).toBe(5n);
  });
});

describe('errors', () => {
  it('puts the verifier log into ERR_VERIFIER', () => {
    const o = track(BpfObject.open(BAD_OBJECT));
    let err: BoxwatchError | undefined;
    try {
      o.load();
    } catch (e) {
      err = e as BoxwatchError;
    }
    expect(err?.code).toBe('ERR_VERIFIER');
    expect(err?.verifierLog).toMatch(/invalid mem access 'map_value_or_null'/);
    expect(err?.message).toMatch(/verifier rejected/);
  });

  it('names a file that is not a BPF object', () => {
    expect(() => BpfObject.open(Buffer.from('definitely not an ELF file'))).toThrow(
      expect.objectContaining({ code: 'ERR_BAD_OBJECT', message: expect.stringMatching(/not a loadable BPF object/) }),
    );
    expect(() => BpfObject.open('/nonexistent/x.bpf.o')).toThrow(
      expect.objectContaining({ code: 'ERR_BAD_OBJECT', message: expect.stringMatching(/cannot read BPF object \/nonexistent\/x\.bpf\.o/) }),
    );
  });

  it('reports a missing program or map by name', () => {
    const o = track(BpfObject.open(TEST_OBJECT));
    expect(() => o.setAutoload('nope', false)).toThrow(/no program named 'nope'/);
    o.setGlobals({ target_tgid: process.pid });
    o.load();
    expect(() => o.map('nope')).toThrow(/no map named 'nope'/);
  });
});

describe('lifecycle', () => {
  it('close() is idempotent, detaches programs and makes later use fail clearly', () => {
    const o = loadTestObject();
    const kv = o.map('kv', codec.u32, codec.u64);
    const rb = o.ringBuffer('events', () => {});
    o.close();
    o.close();
    rb.close();
    expect(() => kv.lookup(1)).toThrow(expect.objectContaining({ code: 'ERR_CLOSED' }));
    expect(() => rb.drain()).toThrow(expect.objectContaining({ code: 'ERR_CLOSED' }));
    expect(() => o.programs()).toThrow(expect.objectContaining({ code: 'ERR_CLOSED' }));
  });

  it('leaks no fds and no memory over 1,000 open/load/attach/close cycles', () => {
    const fds = () => readdirSync('/proc/self/fd').length;
    const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]) * 1024;
    const cycle = () => {
      const o = loadTestObject();
      const rb = o.ringBuffer('events', () => {});
      o.map('kv', codec.u32, codec.u64).update(1, 1n);
      getppidTimes(2);
      rb.drain();
      o.close();
    };
    for (let i = 0; i < 50; i++) cycle(); // warm up allocator and JIT
    global.gc?.();
    const fdsBefore = fds();
    const rssBefore = rss();
    for (let i = 0; i < 1000; i++) cycle();
    global.gc?.();
    expect(fds()).toBe(fdsBefore);
    // Each cycle maps a 256 KiB ring buffer and loads two programs: a leak of any of them would
    // grow RSS by hundreds of MiB over 1,000 cycles. Allow allocator noise only.
    expect(rss() - rssBefore).toBeLessThan(40 << 20);
  });

  it('reports verifier statistics of a loaded program', () => {
    const o = track(loadTestObject());
    const s = o.programStats('on_sys_enter');
    expect(s.verifiedInsns).toBeGreaterThan(10);
    expect(s.xlatedLen).toBeGreaterThan(0);
    expect(() => o.programStats('nope')).toThrow(/no program named 'nope'/);
  });

  it('reports the linked libbpf version', () => {
    expect(libbpfVersion()).toMatch(/^1\.\d+$/);
  });
});

describe('attach kinds', () => {
  it('attaches a cgroup_skb program to a cgroup and counts its egress packets', async () => {
    const { mkdirSync, rmdirSync, writeFileSync } = await import('node:fs');
    const { spawnSync } = await import('node:child_process');
    const { findCgroup2Root } = await import('@boxwatch/core');
    const root = findCgroup2Root();
    expect(root).not.toBeNull();
    const cg = `${root}/bwtest-core-${process.pid}`;
    mkdirSync(cg, { recursive: true });
    const o = track(loadTestObject());
    try {
      o.attach('count_egress', { kind: 'cgroup', cgroupPath: cg });
      const kv = o.map('kv', codec.u32, codec.u64);
      // A shell moves itself into the cgroup, then execs node to send three UDP datagrams.
      const send = "const s=require('dgram').createSocket('udp4');let n=0;const f=()=>s.send('x',9,'127.0.0.1',()=>{if(++n<3)f();else s.close()});f()";
      const r = spawnSync('sh', ['-c', `echo $$ > ${cg}/cgroup.procs && exec ${process.execPath} -e "${send}"`]);
      expect(r.status).toBe(0);
      expect(r.stderr.toString()).toBe('');
      expect(kv.lookup(2000)).toBe(3n);
    } finally {
      o.close();
      try {
        writeFileSync(`${root}/cgroup.procs`, '0');
      } catch {
        /* nothing left in it */
      }
      rmdirSync(cg);
    }
  });

  it('attaches kprobes where the kernel has them and names the feature where it does not', async () => {
    const { probeFeatures } = await import('@boxwatch/core');
    const { fileURLToPath } = await import('node:url');
    const o = track(BpfObject.open(fileURLToPath(new URL('../../bpf/probe/probe.bpf.o', import.meta.url))));
    for (const p of o.programs()) o.setAutoload(p.name, p.name === 'probe_kprobe');
    o.load(); // kprobe programs load everywhere; only attaching needs the kprobe PMU
    if (probeFeatures().kprobe.status === 'supported') {
      expect(o.attach('probe_kprobe').attached).toBe(true);
    } else {
      expect(() => o.attach('probe_kprobe')).toThrow(expect.objectContaining({ code: 'ERR_NOT_SUPPORTED', feature: 'kprobe' }));
    }
  });
});

describe('feature probes', () => {
  it('probe this kernel once per boot: a fresh probe and the cached report agree', async () => {
    const { probeFeatures } = await import('@boxwatch/core');
    const fresh = probeFeatures({ fresh: true });
    expect(fresh.tp_btf.status).toBe('supported');
    expect(fresh.ringbuf.status).toBe('supported');
    const { readFileSync } = await import('node:fs');
    const onDisk = JSON.parse(readFileSync(process.env.BOXWATCH_FEATURE_CACHE ?? '/run/boxwatch/features.json', 'utf8'));
    expect(onDisk.report).toEqual(fresh);
    expect(onDisk.key).toContain(readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim());
    expect(probeFeatures()).toEqual(fresh);
  });
});
