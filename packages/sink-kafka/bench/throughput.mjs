#!/usr/bin/env node
// Throughput of the Kafka path: KafkaSink → local broker → KafkaSource, with and without gzip.
//
//   bash scripts/kafka.sh start
//   node packages/sink-kafka/bench/throughput.mjs [events=200000] [compressions=none,gzip]
//
// The consumer of step 3 runs in a worker thread, as a detector would run in its own process.
// The package's TypeScript sources (and core's) are compiled with esbuild into a temp dir first, so the
// numbers are for the code in the tree (no stale dist/, no tsx needed). For each compression it:
//   1. writes N varied events into a KafkaSink in chunks of 5,000 (like the agent's ring-buffer drains):
//      sink events/s = write → acknowledged by the broker; stored bytes/event = record batches on disk,
//   2. reads them back with a KafkaSource (consumer group, decoding to events): source events/s,
//   3. does both at once on fresh topics, the source in a worker thread: end-to-end events/s.
import { build } from 'esbuild';
import { mkdtempSync, readdirSync, statSync, rmSync, existsSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createRequire } from 'node:module';

const here = path.dirname(fileURLToPath(import.meta.url));
const pkg = path.resolve(here, '..');
const root = path.resolve(pkg, '../..');
const N = Number(process.argv[2] ?? 200_000);
const compressions = (process.argv[3] ?? 'none,gzip').split(',');
const BROKER = `127.0.0.1:${process.env.BOXWATCH_KAFKA_PORT ?? '9092'}`;
const DATA = path.join(process.env.BOXWATCH_KAFKA_DIR ?? '/tmp/boxwatch-kafka', 'data');
const CHUNK = 5_000;
const loadBefore = loadavg().map((l) => l.toFixed(2)).join(' ');

async function compile() {
  const out = mkdtempSync(path.join(tmpdir(), 'sink-kafka-bench-'));
  const entry = path.join(out, 'entry.ts');
  const { writeFileSync } = await import('node:fs');
  writeFileSync(
    entry,
    `export * from ${JSON.stringify(path.join(pkg, 'src/index.ts'))};\n` +
      `export { makeEvent } from ${JSON.stringify(path.join(pkg, 'test/integration/helpers.ts'))};\n` +
      `export { silentLogger } from '@boxwatch/core';\n`,
  );
  await build({
    entryPoints: [entry],
    outfile: path.join(out, 'bundle.mjs'),
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    alias: { '@boxwatch/core': path.join(root, 'packages/core/src/index.ts') },
    // Leave npm dependencies to node's resolution from the repo (run from its node_modules).
    packages: 'external',
    nodePaths: [path.join(root, 'node_modules')],
    logLevel: 'error',
  });
  // Externals resolve relative to the bundle; put it where node_modules is reachable.
  const bundle = path.join(pkg, `.bench-bundle-${process.pid}.mjs`);
  const { copyFileSync } = await import('node:fs');
  copyFileSync(path.join(out, 'bundle.mjs'), bundle);
  rmSync(out, { recursive: true, force: true });
  return bundle;
}

/** Bytes of record batches the broker stored for the topics (their partitions' .log segments). */
function storedBytes(prefix) {
  if (!existsSync(DATA)) return NaN;
  let total = 0;
  for (const dir of readdirSync(DATA)) {
    if (!dir.startsWith(`${prefix}.`)) continue;
    for (const f of readdirSync(path.join(DATA, dir))) if (f.endsWith('.log')) total += statSync(path.join(DATA, dir, f)).size;
  }
  return total;
}

/** Remove the bench's topics so they do not pile up in the local broker (restarts load every topic). */
async function deleteTopics(base) {
  const { Kafka, logLevel } = createRequire(path.join(root, 'package.json'))('kafkajs');
  const admin = new Kafka({ brokers: [BROKER], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  const mine = (await admin.listTopics()).filter((t) => t.startsWith(`${base}.`));
  if (mine.length) await admin.deleteTopics({ topics: mine });
  await admin.disconnect();
}

const waitFor = async (cond, ms = 120_000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 5));
  }
};

/** Write N events in chunks of CHUNK (yielding in between, like ring-buffer drains) and wait for the acks. */
async function produce(lib, prefix, compression, events) {
  const sink = new lib.KafkaSink({ brokers: BROKER, topicPrefix: prefix, partitions: 6, queueSize: events.length, compression, logger: lib.silentLogger });
  await sink.start();
  return {
    sink,
    async run() {
      const t0 = performance.now();
      for (let i = 0; i < events.length; i += CHUNK) {
        for (let j = i; j < Math.min(events.length, i + CHUNK); j++) sink.write(events[j]);
        await new Promise((r) => setImmediate(r));
      }
      await sink.flush();
      const ms = performance.now() - t0;
      const stats = sink.stats();
      await sink.close();
      return { ms, stats };
    },
  };
}

/** A KafkaSource in a worker thread (its own JS thread, as a detector process would be). */
function consumerWorker(bundle, prefix, expected) {
  const worker = new Worker(new URL(import.meta.url), { workerData: { bundle, prefix, expected, broker: BROKER } });
  const ready = new Promise((resolve, reject) => {
    worker.once('error', reject);
    worker.on('message', (m) => m === 'ready' && resolve());
  });
  const done = new Promise((resolve, reject) => {
    worker.once('error', reject);
    worker.on('message', (m) => typeof m === 'object' && resolve(m));
  });
  return { ready, done, worker };
}

async function workerMain() {
  const { bundle, prefix, expected, broker } = workerData;
  const lib = await import(pathToFileURL(bundle).href);
  let consumed = 0;
  let firstAt;
  const source = new lib.KafkaSource({ brokers: broker, groupId: `${prefix}.g`, topicPrefix: prefix, fromBeginning: true, logger: lib.silentLogger, ...JSON.parse(process.env.BENCH_SOURCE_OPTS ?? '{}') });
  await source.start({
    onBatch: (events) => {
      firstAt ??= performance.now();
      consumed += events.length;
    },
  });
  await waitFor(() => Object.values(source.stats().assignment).flat().length === 36);
  parentPort.postMessage('ready');
  await waitFor(() => consumed >= expected, 600_000);
  const stats = source.stats();
  await source.stop();
  parentPort.postMessage({ consumed, decodeErrors: stats.decodeErrors, firstAt });
}

async function run(lib, bundle, compression) {
  const seq = new Map();
  const events = Array.from({ length: N }, (_, n) => lib.makeEvent(n, seq));
  const jsonBytes = events.slice(0, 10_000).reduce((s, e) => s + Buffer.byteLength(JSON.stringify(e.toJSON())), 0) / Math.min(N, 10_000);
  const base = `bench.${compression}.${Date.now().toString(36)}`;

  // 1. Sink alone: write → acknowledged by the broker.
  const p1 = await produce(lib, `${base}.a`, compression, events);
  const produced = await p1.run();

  // 2. Consumer alone, reading that backlog back (decode to events included).
  let consumed = 0;
  let firstAt;
  const source = new lib.KafkaSource({ brokers: BROKER, groupId: `${base}.a.g`, topicPrefix: `${base}.a`, fromBeginning: true, logger: lib.silentLogger });
  await source.start({ onBatch: (evs) => { firstAt ??= performance.now(); consumed += evs.length; } });
  await waitFor(() => consumed >= N, 600_000);
  const consumeMs = performance.now() - firstAt;
  await source.stop();

  // 3. End to end, the consumer running at the same time in its own thread.
  const c = consumerWorker(bundle, `${base}.b`, N);
  const p3 = await produce(lib, `${base}.b`, compression, events);
  await c.ready;
  const t0 = performance.now();
  await p3.run();
  const result = await c.done;
  const e2eMs = performance.now() - t0;
  await c.worker.terminate();

  const storedA = storedBytes(`${base}.a`);
  await deleteTopics(base);
  return {
    compression,
    events: N,
    'sink ev/s': Math.round(N / (produced.ms / 1000)),
    'source ev/s': Math.round(N / (consumeMs / 1000)),
    'end-to-end ev/s': Math.round(N / (e2eMs / 1000)),
    'JSON B/event': Math.round(jsonBytes),
    'stored B/event': Math.round((storedA / N) * 10) / 10,
    'produce requests': produced.stats.batches,
    dropped: produced.stats.dropped + (result.consumed === N ? 0 : NaN),
  };
}

if (!isMainThread) {
  await workerMain();
} else {
  const bundle = await compile();
  try {
    const lib = await import(pathToFileURL(bundle).href);
    const results = [];
    for (const c of compressions) results.push(await run(lib, bundle, c));
    console.log(`load average before/after: ${loadBefore} / ${loadavg().map((l) => l.toFixed(2)).join(' ')} (${cpus().length} cores)`);
    console.table(results);
    console.log(JSON.stringify(results));
  } finally {
    if (!process.env.BENCH_KEEP_BUNDLE) rmSync(bundle, { force: true });
  }
  process.exit(0);
}
