import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import {
  BpfPlugin,
  Collector,
  createEvent,
  decodeHeader,
  NdjsonSink,
  NoopSink,
  probeFeatures,
  resolveRingBufferTuning,
  silentLogger,
  type BoxwatchError,
  type BpfObject,
  type ContainerResolver,
  type HookVariant,
  type IEvent,
  type PluginContext,
  type PluginStats,
  type RingBufferStats,
  type Userspace,
} from '@boxwatch/core';
import { test_record as R } from '../generated/test-record.js';
import { getppidTimes, TEST_OBJECT } from '../helpers/test-object.js';

/** A real BPF plugin on the test program: one `test.getppid` event per getppid of this process. */
class GetppidPlugin extends BpfPlugin {
  readonly name: string = 'getppid';
  readonly eventTypes = ['test.getppid'];
  readonly variants: HookVariant[] = [
    { name: 'fentry', programs: ['on_sys_enter'], requires: ['fentry'] },
    { name: 'tp_btf', programs: ['on_sys_enter'], requires: ['tp_btf', 'ringbuf'] },
  ];
  protected readonly objectPath = TEST_OBJECT;

  protected override configure(obj: BpfObject): void {
    obj.setGlobals({ target_tgid: process.pid });
  }

  protected override ringBuffers() {
    return [
      {
        map: 'events',
        onRecord: (v: DataView, off: number) => {
          const header = decodeHeader(v, off, this.decodeContext());
          this.emit(createEvent('test.getppid', header, { seq: v.getBigUint64(off + R.offsets.seq, true) }));
        },
      },
    ];
  }
}

/** A userspace-only plugin that crashes on demand through ctx.fail. */
class FragilePlugin implements Userspace {
  readonly name = 'fragile';
  readonly variants = [];
  readonly eventTypes = [];
  ctx: PluginContext | null = null;
  stopped = 0;
  async start(ctx: PluginContext) {
    this.ctx = ctx;
  }
  async stop() {
    this.stopped++;
  }
  stats(): PluginStats {
    return { events: 0, lost: 0 };
  }
}

const noContainers: ContainerResolver = {
  byCgroupId: () => null,
  find: () => null,
  list: () => [],
  details: () => null,
  byIp: () => null,
  cgroupIdOf: () => null,
  onChange: () => () => {},
};

describe('Collector', () => {
  it('runs a BPF plugin on the variant the kernel supports and routes its events to sinks and subscribers', async () => {
    const out = new PassThrough();
    const lines: string[] = [];
    out.on('data', (c: Buffer) => lines.push(...c.toString().split('\n').filter(Boolean)));
    const noop = new NoopSink();
    const plugin = new GetppidPlugin();
    const collector = new Collector({ plugins: [plugin], sinks: [new NdjsonSink({ stream: out }), noop], logger: silentLogger, containers: noContainers, host: 'h1' });
    const seen: IEvent[] = [];
    collector.on('event', (e) => seen.push(e));
    await collector.start();
    expect(collector.pluginStates()).toEqual([{ name: 'getppid', state: 'running', error: undefined }]);
    // fentry is refused on this kernel (lockdown); the tp_btf variant must have been chosen.
    expect(plugin.stats().variant).toBe(probeFeatures().fentry.status === 'supported' ? 'fentry' : 'tp_btf');

    getppidTimes(25);
    await new Promise((r) => setTimeout(r, 60));
    await collector.stop();
    await collector.stop();

    expect(seen).toHaveLength(25);
    expect(seen.every((e) => e.type === 'test.getppid' && e.pid === process.pid && e.host === 'h1' && e.container === null)).toBe(true);
    expect(noop.stats().delivered).toBe(25);
    expect(lines).toHaveLength(25);
    const first = JSON.parse(lines[0] as string);
    expect(first).toMatchObject({ schema: 1, type: 'test.getppid', pid: process.pid, container: null, seq: expect.any(String) });
    const stats = collector.stats();
    expect(stats.events.byType['test.getppid']).toBe(25);
    expect(stats.plugins.getppid).toMatchObject({ events: 25, lost: 0, state: 'stopped' });
  });

  it("applies a plugin's ring buffer tuning to its readers (in place, normal priority) and still delivers every event", async () => {
    class InPlacePlugin extends GetppidPlugin {
      constructor() {
        super();
        this.ringBufferTuning = resolveRingBufferTuning({ stagingBytes: 0, realtimeDrain: false });
      }
    }
    for (const [plugin, stagingBytes] of [[new InPlacePlugin(), 0], [new GetppidPlugin(), 4 << 20]] as const) {
      const noop = new NoopSink();
      const collector = new Collector({ plugins: [plugin], sinks: [noop], logger: silentLogger, containers: noContainers, host: 'h1' });
      await collector.start();
      getppidTimes(25);
      await new Promise((r) => setTimeout(r, 60));
      const ring = (plugin.stats().ringBuffers as Record<string, RingBufferStats>).events!;
      expect(ring).toMatchObject({ stagingBytes, records: 25, lost: 0 });
      if (stagingBytes === 0) expect(ring.realtimeDrain).toBe(false);
      await collector.stop();
      expect(noop.stats().delivered).toBe(25);
    }
  });

  it('names the bad field of a ring buffer tuning', () => {
    const field = (v: unknown) => {
      try {
        resolveRingBufferTuning(v);
      } catch (err) {
        return (err as BoxwatchError).field;
      }
      return undefined;
    };
    expect(field({ stagingBytes: 3 << 20 })).toBe('ringBuffer.stagingBytes');
    expect(field({ realtimeDrain: 'yes' })).toBe('ringBuffer.realtimeDrain');
    expect(field({ staging: 0 })).toBe('ringBuffer.staging');
    expect(field(7)).toBe('ringBuffer');
    expect(resolveRingBufferTuning(undefined)).toEqual({});
    expect(resolveRingBufferTuning({ stagingBytes: 1 << 20, realtimeDrain: true })).toEqual({ stagingBytes: 1 << 20, realtimeDrain: true });
  });

  it('detaches a disabled plugin and re-attaches it when enabled', async () => {
    const collector = new Collector({ plugins: [new GetppidPlugin()], logger: silentLogger, containers: noContainers });
    let n = 0;
    collector.on('event', () => n++);
    await collector.start();
    await collector.disablePlugin('getppid');
    getppidTimes(10);
    expect(n).toBe(0);
    await collector.enablePlugin('getppid');
    getppidTimes(10);
    await new Promise((r) => setTimeout(r, 60));
    expect(n).toBe(10);
    await collector.stop();
  });

  it('stops a plugin that reports a crash and keeps the others running', async () => {
    const fragile = new FragilePlugin();
    const collector = new Collector({ plugins: [fragile, new GetppidPlugin()], logger: silentLogger, containers: noContainers });
    const errors: string[] = [];
    collector.on('pluginError', (name) => errors.push(name));
    await collector.start();
    fragile.ctx?.fail(new Error('boom'));
    await new Promise((r) => setTimeout(r, 10));
    expect(errors).toEqual(['fragile']);
    expect(fragile.stopped).toBe(1);
    expect(collector.pluginStates()).toEqual([
      { name: 'fragile', state: 'failed', error: 'boom' },
      { name: 'getppid', state: 'running', error: undefined },
    ]);
    await collector.stop();
  });

  it('names every plugin that could not start when none can', async () => {
    class Broken extends GetppidPlugin {
      override readonly name = 'broken';
      protected override readonly objectPath = '/nonexistent.bpf.o';
    }
    const collector = new Collector({ plugins: [new Broken()], logger: silentLogger, containers: noContainers });
    await expect(collector.start()).rejects.toThrow(/no plugin could start: broken: cannot read BPF object \/nonexistent\.bpf\.o/);
  });
});
