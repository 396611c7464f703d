import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel, type Consumer, type KafkaMessage } from 'kafkajs';
import { createEvent, type ContainerInfo, type IEvent } from '@boxwatch/core';

/** The broker scripts/kafka.sh runs (tests start it if it is not running, and leave it running). */
export const BROKER = `127.0.0.1:${process.env.BOXWATCH_KAFKA_PORT ?? '9092'}`;
const SCRIPT = fileURLToPath(new URL('../../../../scripts/kafka.sh', import.meta.url));

function kafkaSh(command: 'start' | 'stop' | 'status'): void {
  execFileSync('bash', [SCRIPT, command], { stdio: ['ignore', 'inherit', 'inherit'], timeout: 170_000 });
}
export const startBroker = (): void => kafkaSh('start');
export const stopBroker = (): void => kafkaSh('stop');

/** Stop the broker without blocking the event loop, so a sink keeps sending while it shuts down. */
export function stopBrokerAsync(): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('bash', [SCRIPT, 'stop'], { timeout: 170_000 }, (err) => (err ? reject(err) : resolve()));
  });
}

const usedPrefixes: string[] = [];

/** A topic prefix no other test (or earlier run) used, so tests never see each other's events. */
export function uniquePrefix(name: string): string {
  const prefix = `test.${name}.${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  usedPrefixes.push(prefix);
  return prefix;
}

/**
 * Delete the topics this test file created (call in afterAll). Left behind, they pile up across runs
 * and every broker restart has to load them all (hundreds of partitions made a restart take 17 s).
 */
export async function deleteTestTopics(): Promise<void> {
  const admin = rawKafka().admin();
  await admin.connect();
  try {
    const mine = (await admin.listTopics()).filter((t) => usedPrefixes.some((p) => t.startsWith(`${p}.`)));
    if (mine.length > 0) await admin.deleteTopics({ topics: mine });
  } finally {
    await admin.disconnect();
  }
}

export function rawKafka(): Kafka {
  return new Kafka({ clientId: 'sink-kafka-test', brokers: [BROKER], logLevel: logLevel.NOTHING });
}

export const CONTAINERS: ContainerInfo[] = Array.from({ length: 16 }, (_, i) => ({
  id: randomBytes(32).toString('hex'),
  name: `svc-${i}`,
  image: `registry.local/app-${i % 4}:1.${i}`,
  imageId: `sha256:${randomBytes(32).toString('hex')}`,
  labels: { 'com.example.team': `team-${i % 3}`, 'ünïcode': '✓ "quoted" \\ back' },
  runtime: 'docker',
}));

const HOSTS = ['node-a', 'node-b'];

/**
 * Event number `n` of a deterministic, varied stream: every family, host processes and containers,
 * nested objects, arrays, bigint header fields near 2^64, unicode, negative errno returns. `seq` counts
 * the events of one (host, container) so consumers can check per-container order.
 */
export function makeEvent(n: number, seqByKey: Map<string, number>): IEvent {
  const host = HOSTS[n % HOSTS.length]!;
  const container = n % 17 === 0 ? null : CONTAINERS[n % CONTAINERS.length]!;
  const key = `${host}/${container?.id ?? 'host'}`;
  const seq = seqByKey.get(key) ?? 0;
  seqByKey.set(key, seq + 1);
  const header = {
    time: new Date(1_700_000_000_000 + n),
    ts: 18_446_744_073_000_000_000n + BigInt(n),
    host,
    container,
    cgroupId: 9_007_199_254_740_993n + BigInt(n % 1000),
    pid: 1000 + (n % 5000),
    tid: 1000 + (n % 7000),
    comm: n % 3 === 0 ? 'bash' : 'nginx: wörker',
  };
  switch (n % 6) {
    case 0:
      return createEvent('syscall.count', header, { n, seq, syscall: { id: n % 450, name: 'openat' }, count: n * 3, interval_ms: 1000 });
    case 1:
      return createEvent('file.open', header, {
        n,
        seq,
        path: `/var/lib/app/${n}/data ✓.db`,
        fs: 'overlay',
        flags: { read: true, write: n % 2 === 0, create: false, trunc: false, append: false, excl: false, directory: false, cloexec: true, nofollow: false, tmpfile: false },
        raw_flags: 524_288,
        mode: 0o644,
        ret: n % 10 === 0 ? -13 : 3,
        truncated: false,
      });
    case 2:
      return createEvent('net.connect', header, { n, seq, proto: 'tcp', saddr: '10.0.0.2', sport: 40_000 + (n % 20_000), daddr: '::1', dport: 443, peer_container: null });
    case 3:
      return createEvent('process.exec', header, { n, seq, filename: '/bin/sh', argv: ['sh', '-c', `echo ${n} "x"\n`], ppid: 1, uid: 0, ns_pid: 7 });
    case 4:
      return createEvent('resource.usage', header, { n, seq, cpu_percent: 12.5 + (n % 100) / 8, memory_bytes: 123_456_789 + n, memory_limit_bytes: null, oom_kills: 0, pids: 4, interval_ms: 5000 });
    default:
      return createEvent('alert', header, { n, seq, rule: 'shell in container', priority: 'warning', message: `shell ${n}`, evidence: [{ schema: 1, type: 'process.exec', time: header.time.toISOString() }], count: 1, tags: ['mitre_execution'] });
  }
}

/** One event as a plain kafkajs consumer sees it (a batch message yields one per element). */
export interface Received {
  topic: string;
  partition: number;
  offset: string;
  key: string;
  headers: Record<string, string>;
  /** The event's JSON (schema 1 form: in a batch, host and container come from the envelope). */
  json: Record<string, unknown>;
  /** Events in the Kafka message this one came in (1 for the single form). */
  inMessage: number;
  /** Position in that message. */
  index: number;
}

/**
 * Decode by hand, from the documented wire format (not with the package's decoder): a single-event
 * value is the event's JSON; a batch value is {"schema":2,"events":[...],"host","container"}.
 */
function decode(topic: string, partition: number, m: KafkaMessage): Received[] {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(m.headers ?? {})) headers[k] = String(v);
  const value = JSON.parse(m.value!.toString()) as Record<string, unknown>;
  const base = { topic, partition, offset: m.offset, key: m.key!.toString(), headers };
  if (value.schema === 2 && Array.isArray(value.events)) {
    const events = value.events as Array<Record<string, unknown>>;
    return events.map((e, index) => ({ ...base, json: { ...e, host: value.host, container: value.container }, inMessage: events.length, index }));
  }
  return [{ ...base, json: value, inMessage: 1, index: 0 }];
}

/**
 * Read messages of `topics` from the beginning with a plain kafkajs consumer (not our KafkaSource)
 * until `expected` arrived, then keep reading until `settle()` says nothing more is coming (so extra
 * duplicates would be seen too). Gives up after `deadlineMs` and returns what it has.
 */
export async function consumeAll(topics: string[], expected: number, deadlineMs = 90_000): Promise<Received[]> {
  const consumer: Consumer = rawKafka().consumer({ groupId: `verify-${randomBytes(4).toString('hex')}` });
  const got: Received[] = [];
  const lastOffset = new Map<string, number>();
  await consumer.connect();
  await consumer.subscribe({ topics, fromBeginning: true });
  let done: () => void = () => {};
  const reached = new Promise<void>((resolve) => (done = resolve));
  await consumer.run({
    eachBatch: async ({ batch }) => {
      for (const m of batch.messages) {
        got.push(...decode(batch.topic, batch.partition, m));
        lastOffset.set(`${batch.topic}/${batch.partition}`, Number(m.offset));
      }
      if (got.length >= expected) done();
    },
  });
  const deadline = setTimeout(done, deadlineMs);
  await reached;
  clearTimeout(deadline);
  // The end offsets tell whether more messages than read so far are in the topics (duplicates).
  const admin = rawKafka().admin();
  await admin.connect();
  const high = new Map<string, number>();
  for (const topic of topics) for (const p of await admin.fetchTopicOffsets(topic)) high.set(`${topic}/${p.partition}`, Number(p.high));
  await admin.disconnect();
  const readAll = () => [...high].every(([tp, h]) => h === 0 || (lastOffset.get(tp) ?? -1) >= h - 1);
  if (got.length >= expected) await waitFor(readAll, 30_000);
  await consumer.disconnect();
  return got;
}

/** Poll `condition` until true or the deadline (a wait, not a timing assertion). */
export async function waitFor(condition: () => boolean, deadlineMs = 60_000): Promise<boolean> {
  const end = Date.now() + deadlineMs;
  while (!condition()) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 25));
  }
  return true;
}
