/**
 * Real pipeline for detector integration tests: the syscall, fileopen and cnetwork plugins started by
 * core's Collector (kernel features probed with probeFeatures()), a Detector fed the way `boxwatch run`
 * feeds it (a DetectorSink: plugins' ring buffers merged back into kernel order), and busybox test
 * containers named `bwtest-det-<role>-<random>`.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect } from 'vitest';
import { Collector, probeFeatures, silentLogger, type IEvent } from '@boxwatch/core';
import { SyscallPlugin, type SyscallPluginOptions } from '@boxwatch/plugin-syscall';
import { FileOpenPlugin } from '@boxwatch/plugin-fileopen';
import { CNetworkPlugin } from '@boxwatch/plugin-cnetwork';
import { Detector, DetectorSink, type AlertEvent, type DetectorOptions } from '@boxwatch/detector';

const run = promisify(execFile);

export const IMAGE = 'boxwatch-test/busybox:latest';

export async function docker(...args: string[]): Promise<string> {
  const { stdout } = await run('docker', args, { maxBuffer: 16 << 20 });
  return stdout.trim();
}

/** `docker exec` that reports the exit code instead of throwing (near-misses expect failures). */
export async function dockerExec(container: string, ...cmd: string[]): Promise<number> {
  return dockerExecWith([], container, cmd);
}

/** `docker exec -t`: the process gets a terminal, as an operator's interactive shell does. */
export async function dockerExecTty(container: string, ...cmd: string[]): Promise<number> {
  return dockerExecWith(['-t'], container, cmd);
}

async function dockerExecWith(options: string[], container: string, cmd: string[]): Promise<number> {
  try {
    await run('docker', ['exec', ...options, container, ...cmd], { maxBuffer: 16 << 20 });
    return 0;
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'number' ? code : -1;
  }
}

export async function ensureImage(): Promise<void> {
  try {
    await docker('image', 'inspect', IMAGE);
  } catch {
    await run('bash', ['scripts/test-image.sh'], { cwd: new URL('../../../../', import.meta.url).pathname });
  }
}

export function containerName(role: string): string {
  return `bwtest-det-${role}-${Math.random().toString(36).slice(2, 8)}`;
}

export class Containers {
  readonly names: string[] = [];

  /** `role` may carry a run prefix (`m1x2y3-web`): names are `bwtest-det-<role>-<random>`. */
  async start(role: string, args: string[] = [], cmd: string[] = ['sleep', '3600']): Promise<string> {
    const name = containerName(role);
    this.names.push(name);
    await docker('run', '-d', '--name', name, ...args, IMAGE, ...cmd);
    return name;
  }

  /**
   * `docker run --rm`: a new container whose command acts at once, as an attacker's entrypoint
   * does; resolves with the exit code once the container has exited (never throws on failure,
   * near misses and refused attacks exit non-zero).
   */
  async run(role: string, args: string[], cmd: string[]): Promise<{ name: string; code: number }> {
    const name = containerName(role);
    this.names.push(name);
    try {
      await run('docker', ['run', '--rm', '--name', name, ...args, IMAGE, ...cmd], { maxBuffer: 16 << 20 });
      return { name, code: 0 };
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      return { name, code: typeof code === 'number' ? code : -1 };
    }
  }

  async ip(name: string): Promise<string> {
    return docker('inspect', '-f', '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}', name);
  }

  async removeAll(): Promise<void> {
    if (this.names.length > 0) await docker('rm', '-f', ...this.names).catch(() => undefined);
  }
}

export interface Pipeline {
  collector: Collector;
  detector: Detector;
  alerts: AlertEvent[];
  /** Events of the test containers in the order the detector ingested them (its alerts already raised). */
  events: IEvent[];
  close(): Promise<void>;
}

/** A Detector that records what it ingests, after ingesting it. */
class RecordingDetector extends Detector {
  constructor(
    options: DetectorOptions,
    private readonly accept: (e: IEvent) => boolean,
    private readonly seen: IEvent[],
  ) {
    super(options);
  }

  override ingest(event: IEvent): void {
    if (this.accept(event)) super.ingest(event);
    if (event.container?.name?.startsWith('bwtest-det-')) this.seen.push(event);
  }
}

export async function startPipeline(
  detectorOptions: DetectorOptions,
  syscall: SyscallPluginOptions = {},
  /** Events the detector gets (default all; model tests keep other engineers' containers of the same image out). */
  accept: (e: IEvent) => boolean = () => true,
): Promise<Pipeline> {
  const features = await probeFeatures();
  const events: IEvent[] = [];
  const detector = new RecordingDetector({ flushIntervalMs: 0, ...detectorOptions }, accept, events);
  const sink = new DetectorSink(detector);
  const collector = new Collector({
    plugins: [new SyscallPlugin({ drainIntervalMs: 1000, ...syscall }), new FileOpenPlugin(), new CNetworkPlugin({ flowIntervalMs: 1000 })],
    sinks: [sink],
    features,
    logger: silentLogger,
  });
  const alerts: AlertEvent[] = [];
  detector.on('alert', (a) => alerts.push(a));
  await collector.start();
  const states = collector.pluginStates();
  // Every plugin must be running: a test against a plugin that silently failed would prove nothing.
  expect(states.map((s) => `${s.name}:${s.state}${s.error ? ` (${s.error})` : ''}`)).toEqual(['syscall:running', 'fileopen:running', 'cnetwork:running']);
  return {
    collector,
    detector,
    alerts,
    events,
    async close() {
      await collector.stop();
      await detector.close();
    },
  };
}

export async function waitFor<T>(what: string, probe: () => T | undefined | null | false, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The first alert of `rule` in container `name` (waits for it). */
export function waitForAlert(p: Pipeline, rule: string, name: string, extra: (a: AlertEvent) => boolean = () => true): Promise<AlertEvent> {
  return waitFor(`alert "${rule}" in ${name}`, () => p.alerts.find((a) => a.rule === rule && a.container?.name === name && extra(a)));
}

/**
 * Wait until the pipeline has seen an event matching `probe` for a container (a marker the near-miss
 * container runs last), so "no alert" is asserted after its events went through the detector.
 */
export function waitForEvent(p: Pipeline, what: string, probe: (e: IEvent & Record<string, unknown>) => boolean): Promise<IEvent> {
  return waitFor(what, () => p.events.find((e) => probe(e as IEvent & Record<string, unknown>)));
}

export function alertsIn(p: Pipeline, name: string): AlertEvent[] {
  return p.alerts.filter((a) => a.container?.name === name);
}
