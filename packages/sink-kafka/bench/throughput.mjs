#!/usr/bin/env node
// Throughput of the Kafka path against the local broker, before/after in one run.
//
//   bash scripts/kafka.sh start
//   node packages/sink-kafka/bench/throughput.mjs [events=100000] [compressions=none,gzip] [runs=5]
//
// Environment: BENCH_BEFORE=<git rev> (the sink to compare with; default 94130b8, the last sink that sent
// one Kafka message per event), BENCH_E2E=0 to skip the end-to-end step.
//
// The TypeScript sources in the tree (and core's) are compiled with esbuild first, so the numbers are for
// the code in the tree (no stale dist/). The "before" sink is compiled the same way from `git archive`.
// The machine is shared and noisy: every run measures all producers back to back on fresh topics, and
// the table reports min and median over the runs, plus each producer's ratio to the plain kafkajs
// producer measured in the same run (median of the per-run ratios), and CPU time per event (this
// process, all threads: less sensitive to other load than wall time).
//
// Producers (each writes the same N varied events, in chunks of 5,000 like the agent's ring-buffer
// drains, and is timed from the first write to the last acknowledgement):
//   kafkajs   plain kafkajs producer (idempotent, acks=all), messages serialised BEFORE the clock
//             starts, sent with sendBatch 10,000 at a time: the baseline
//   before    KafkaSink at BENCH_BEFORE (one message per event)
//   single    KafkaSink now, messageFormat 'single' (one message per event)
//   batch     KafkaSink now, messageFormat 'batch' (the default: many events per message)
// Then KafkaSource reads each form's backlog back (decoding to events): source ev/s; and, once,
// both at once with the source in a worker thread: end-to-end ev/s.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createRequire } from 'node:module';

const here = path.dirname(fileURLToPath(import.meta.url));
const pkg = path.resolve(here, '..');
const root = path.resolve(pkg, '../..');
const N = Number(process.argv[2] ?? 100_000);
const compressions = (process.argv[3] ?? 'none,gzip').split(',');
const RUNS = Number(process.argv[4] ?? 5);
const BEFORE = process.env.BENCH_BEFORE ?? '94130b8';
const BROKER = `127.0.0.1:${process.env.BOXWATCH_KAFKA_PORT ?? '9092'}`;
const DATA = path.join(process.env.BOXWATCH_KAFKA_DIR ?? '/tmp/boxwatch-kafka', 'data');
const CHUNK = 5_000;
const loadBefore = loadavg().map((l) => l.toFixed(2)).join(' ');
const kafkajs = createRequire(path.join(root, 'package.json'))('kafkajs');
// kafkajs keeps one gzip codec per process, and a KafkaSink with gzip registers its own in place of the
// built-in one: give the plain kafkajs baseline and the "before" sink kafkajs's codec back before they run.
const builtinGzip = kafkajs.CompressionCodecs[kafkajs.CompressionTypes.GZIP];
const useBuiltinGzip = () => void (kafkajs.CompressionCodecs[kafkajs.CompressionTypes.GZIP] = builtinGzip);

/** Bundle `srcDir/index.ts` (plus the test event generator) next to the package so npm deps resolve. */
async function compile(srcDir, name) {
  const out = mkdtempSync(path.join(tmpdir(), 'sink-kafka-bench-'));
  const entry = path.join(out, 'entry.ts');
  writeFileSync(
    entry,
    `export * from ${JSON.stringify(path.join(srcDir, 'index.ts'))};\n` +
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
    packages: 'external',
    nodePaths: [path.join(root, 'node_modules')],
    logLevel: 'error',
  });
  const bundle = path.join(pkg, `.bench-${name}-${process.pid}.mjs`);
  copyFileSync(path.join(out, 'bundle.mjs'), bundle);
  rmSync(out, { recursive: true, force: true });
  return bundle;
}

/** The sink's sources at `rev`, extracted into a temp dir (null when git cannot give them). */
function sourcesAt(rev) {
  const dir = mkdtempSync(path.join(tmpdir(), 'sink-kafka-before-'));
  try {
    const tar = execFileSync('git', ['-C', root, 'archive', rev, 'packages/sink-kafka/src'], { maxBuffer: 64 << 20 });
    execFileSync('tar', ['-x', '-C', dir], { input: tar });
    return { dir, src: path.join(dir, 'packages/sink-kafka/src') };
  } catch (err) {
    console.error(`no "before" sink: git archive ${rev} failed (${String(err.message).split('\n')[0]})`);
    rmSync(dir, { recursive: true, force: true });
    return null;
  }
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

function rawKafka() {
  return new kafkajs.Kafka({ clientId: 'bench', brokers: [BROKER], logLevel: kafkajs.logLevel.NOTHING });
}

/** Remove the bench's topics so they do not pile up in the local broker (restarts load every topic). */
async function deleteTopics(base) {
  const admin = rawKafka().admin();
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

const tick = () => new Promise((r) => setImmediate(r));

/** Time `fn` (wall and this process's CPU, all threads). */
async function timed(fn) {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const extra = await fn();
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(c0);
  return { ms, cpuMs: (cpu.user + cpu.system) / 1000, ...extra };
}

/** A KafkaSink (of `lib`): write in chunks, yielding in between, then wait for every acknowledgement. */
async function sinkRun(lib, prefix, compression, events, extra) {
  const sink = new lib.KafkaSink({ brokers: BROKER, topicPrefix: prefix, partitions: 6, queueSize: Math.max(1, events.length), compression, logger: lib.silentLogger, ...extra });
  await sink.start();
  const r = await timed(async () => {
    for (let i = 0; i < events.length; i += CHUNK) {
      for (let j = i; j < Math.min(events.length, i + CHUNK); j++) sink.write(events[j]);
      await tick();
    }
    await sink.flush();
  });
  const stats = sink.stats();
  await sink.close();
  if (stats.delivered !== events.length) throw new Error(`sink delivered ${stats.delivered} of ${events.length}`);
  return { ...r, messages: stats.messages ?? stats.delivered, requests: stats.batches };
}

/** The baseline: kafkajs alone, one message per event, serialised before the clock starts. */
async function kafkajsRun(lib, prefix, compression, events) {
  const codec = { none: kafkajs.CompressionTypes.None, gzip: kafkajs.CompressionTypes.GZIP }[compression];
  const topicOf = (type) => lib.topicForType(prefix, type);
  // Topics created the way the sink does it (kafkajs's own waitForLeaders gives up too early).
  await sinkRun(lib, prefix, compression, [], {});
  useBuiltinGzip(); // that sink registered the sink's codec
  const messages = events.map((e) => ({ topic: topicOf(e.type), message: { key: lib.messageKey(e), value: JSON.stringify(e.toJSON()), headers: { type: e.type, host: e.host } } }));
  const producer = rawKafka().producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const r = await timed(async () => {
    for (let i = 0; i < messages.length; i += 10_000) {
      const byTopic = new Map();
      for (const m of messages.slice(i, i + 10_000)) {
        if (!byTopic.has(m.topic)) byTopic.set(m.topic, []);
        byTopic.get(m.topic).push(m.message);
      }
      await producer.sendBatch({ topicMessages: [...byTopic].map(([topic, ms]) => ({ topic, messages: ms })), acks: -1, compression: codec });
    }
  });
  await producer.disconnect();
  return { ...r, messages: messages.length, requests: Math.ceil(messages.length / 10_000) };
}

/** KafkaSource (current) reading a backlog: wall time from the first delivered batch to the last event. */
async function sourceRun(lib, prefix, expected) {
  let consumed = 0;
  let firstAt;
  let c0;
  const source = new lib.KafkaSource({ brokers: BROKER, groupId: `${prefix}.g`, topicPrefix: prefix, fromBeginning: true, logger: lib.silentLogger });
  await source.start({
    onBatch: (evs) => {
      if (firstAt === undefined) {
        firstAt = performance.now();
        c0 = process.cpuUsage();
      }
      consumed += evs.length;
    },
  });
  await waitFor(() => consumed >= expected, 600_000);
  const ms = performance.now() - firstAt;
  const cpu = process.cpuUsage(c0);
  const { decodeErrors } = source.stats();
  await source.stop();
  if (consumed !== expected || decodeErrors) throw new Error(`source read ${consumed}/${expected}, ${decodeErrors} decode errors`);
  return { ms, cpuMs: (cpu.user + cpu.system) / 1000 };
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
  const source = new lib.KafkaSource({ brokers: broker, groupId: `${prefix}.g`, topicPrefix: prefix, fromBeginning: true, logger: lib.silentLogger });
  await source.start({ onBatch: (events) => void (consumed += events.length) });
  await waitFor(() => Object.values(source.stats().assignment).flat().length === 36);
  parentPort.postMessage('ready');
  await waitFor(() => consumed >= expected, 600_000);
  const stats = source.stats();
  await source.stop();
  parentPort.postMessage({ consumed, decodeErrors: stats.decodeErrors });
}

async function endToEnd(lib, bundle, base, compression, events, format) {
  const prefix = `${base}.e2e-${format}`;
  // Create the topics (and let the worker join) before the clock starts.
  await sinkRun(lib, prefix, compression, [], {});
  const c = consumerWorker(bundle, prefix, events.length);
  await c.ready;
  const t0 = performance.now();
  await sinkRun(lib, prefix, compression, events, { messageFormat: format });
  const result = await c.done;
  const ms = performance.now() - t0;
  await c.worker.terminate();
  if (result.consumed !== events.length) throw new Error(`end to end: ${result.consumed} of ${events.length}`);
  return Math.round(events.length / (ms / 1000));
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function main() {
  const lib = await import(pathToFileURL(await compile(path.join(pkg, 'src'), 'now')).href);
  const bundleNow = path.join(pkg, `.bench-now-${process.pid}.mjs`);
  const before = sourcesAt(BEFORE);
  const libBefore = before ? await import(pathToFileURL(await compile(before.src, 'before')).href) : null;
  const seq = new Map();
  const events = Array.from({ length: N }, (_, n) => lib.makeEvent(n, seq));
  const jsonBytes = events.slice(0, 10_000).reduce((s, e) => s + Buffer.byteLength(JSON.stringify(e.toJSON())), 0) / Math.min(N, 10_000);
  const producers = [
    ['kafkajs', (p, c) => kafkajsRun(lib, p, c, events)],
    ...(libBefore ? [['before', (p, c) => (useBuiltinGzip(), sinkRun(libBefore, p, c, events, {}))]] : []),
    ['single', (p, c) => sinkRun(lib, p, c, events, { messageFormat: 'single' })],
    ['batch', (p, c) => sinkRun(lib, p, c, events, { messageFormat: 'batch' })],
  ];
  const results = []; // { run, compression, producer, evps, cpuUsPerEvent, storedPerEvent, messages, requests }
  const sources = []; // { run, compression, form, evps }
  const e2e = [];
  for (let run = 1; run <= RUNS; run++) {
    for (const compression of compressions) {
      const base = `bench.${compression}.${Date.now().toString(36)}`;
      for (const [name, go] of producers) {
        const prefix = `${base}.${name}`;
        const r = await go(prefix, compression);
        results.push({
          run,
          compression,
          producer: name,
          evps: N / (r.ms / 1000),
          cpuUsPerEvent: (r.cpuMs * 1000) / N,
          storedPerEvent: storedBytes(prefix) / N,
          messages: r.messages,
          requests: r.requests,
        });
        process.stderr.write(`  ${compression} ${name}: ${Math.round(N / (r.ms / 1000))} ev/s, ${((r.cpuMs * 1000) / N).toFixed(1)} µs CPU/event\n`);
        if (name === 'single' || name === 'batch') {
          const s = await sourceRun(lib, prefix, N);
          sources.push({ run, compression, form: name, evps: N / (s.ms / 1000), cpuUsPerEvent: (s.cpuMs * 1000) / N });
        }
      }
      if (run === 1 && process.env.BENCH_E2E !== '0') {
        for (const form of ['single', 'batch']) e2e.push({ compression, form, evps: await endToEnd(lib, bundleNow, base, compression, events, form) });
      }
      await deleteTopics(base);
      process.stderr.write(`run ${run}/${RUNS} ${compression} done (load ${loadavg()[0].toFixed(2)})\n`);
    }
  }

  const table = [];
  for (const compression of compressions) {
    for (const [name] of producers) {
      const rs = results.filter((r) => r.compression === compression && r.producer === name);
      const ratios = rs.map((r) => r.evps / results.find((b) => b.run === r.run && b.compression === compression && b.producer === 'kafkajs').evps);
      table.push({
        compression,
        producer: name,
        'min ev/s': Math.round(Math.min(...rs.map((r) => r.evps))),
        'median ev/s': Math.round(median(rs.map((r) => r.evps))),
        'max ev/s': Math.round(Math.max(...rs.map((r) => r.evps))),
        '× kafkajs (median)': Math.round(median(ratios) * 100) / 100,
        'CPU µs/event (median)': Math.round(median(rs.map((r) => r.cpuUsPerEvent)) * 10) / 10,
        'stored B/event': Math.round(median(rs.map((r) => r.storedPerEvent)) * 10) / 10,
        'messages': rs[0].messages,
        'requests': rs[0].requests,
      });
    }
  }
  const srcTable = [];
  for (const compression of compressions) {
    for (const form of ['single', 'batch']) {
      const rs = sources.filter((s) => s.compression === compression && s.form === form);
      srcTable.push({
        compression,
        form,
        'min ev/s': Math.round(Math.min(...rs.map((s) => s.evps))),
        'median ev/s': Math.round(median(rs.map((s) => s.evps))),
        'CPU µs/event (median)': Math.round(median(rs.map((s) => s.cpuUsPerEvent)) * 10) / 10,
        'end-to-end ev/s (run 1)': e2e.find((e) => e.compression === compression && e.form === form)?.evps ?? '-',
      });
    }
  }
  console.log(`${N} events/run, ${RUNS} runs, JSON ${Math.round(jsonBytes)} B/event (single form); before = ${BEFORE}`);
  console.log(`load average before/after: ${loadBefore} / ${loadavg().map((l) => l.toFixed(2)).join(' ')} (${cpus().length} cores)`);
  console.log('sink → broker (write to last acknowledgement):');
  console.table(table);
  console.log('broker → KafkaSource (decoded events), and end to end with the source in a worker:');
  console.table(srcTable);
  console.log(JSON.stringify({ table, srcTable, results, sources, e2e }));
  if (before) rmSync(before.dir, { recursive: true, force: true });
}

if (!isMainThread) {
  await workerMain();
} else {
  try {
    await main();
  } finally {
    if (!process.env.BENCH_KEEP_BUNDLE) for (const f of readdirSync(pkg)) if (f.startsWith(`.bench-`) && f.endsWith(`-${process.pid}.mjs`)) rmSync(path.join(pkg, f), { force: true });
  }
  process.exit(0);
}
