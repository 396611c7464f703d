#!/usr/bin/env node
// Readiness probe for scripts/kafka.sh: the broker is ready when a kafkajs admin client can connect,
// list topics, and every partition of those topics has a leader. An open port is not enough: the KRaft
// controller may not have elected itself yet, and after a restart partitions come online one by one
// while their logs are loaded (clients meanwhile get UNKNOWN_TOPIC_OR_PARTITION).
//
//   node scripts/kafka/ready.mjs <host:port> <timeout-seconds>
// Exit 0 when ready, 1 when the deadline passed. A timeout of 0 means a single attempt.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

// Resolve kafkajs from the monorepo root (scripts/ is not a workspace package).
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const require = createRequire(path.join(root, 'package.json'));
const { Kafka, logLevel } = require('kafkajs');

const broker = process.argv[2] ?? '127.0.0.1:9092';
const timeoutSeconds = Number(process.argv[3] ?? '90');
const deadline = Date.now() + timeoutSeconds * 1000;

async function tryOnce() {
  const kafka = new Kafka({
    clientId: 'boxwatch-kafka-ready',
    brokers: [broker],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1000,
    requestTimeout: 3000,
    retry: { retries: 0 },
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    const topics = await admin.listTopics();
    if (topics.length > 0) {
      const meta = await admin.fetchTopicMetadata({ topics });
      const offline = meta.topics.flatMap((t) => t.partitions.filter((p) => p.leader < 0).map((p) => `${t.name}/${p.partitionId}`));
      if (offline.length > 0) throw new Error(`${offline.length} partitions without a leader (${offline[0]}, ...)`);
    }
    return topics;
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

let lastError;
for (;;) {
  try {
    const topics = await tryOnce();
    console.log(`kafka ready on ${broker} (${topics.length} topics)`);
    process.exit(0);
  } catch (err) {
    lastError = err;
  }
  if (Date.now() >= deadline) break;
  await new Promise((r) => setTimeout(r, 500));
}
console.error(`kafka not ready on ${broker}: ${lastError?.message ?? lastError}`);
process.exit(1);
