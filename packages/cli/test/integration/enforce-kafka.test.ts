/**
 * Enforcement over the Kafka path: `boxwatch agent --policy` kills a `docker run --rm` container
 * that execs a binary it dropped in /tmp and ships the enforce.exec event to `<prefix>.enforce`
 * (a topic the sink declares and creates, not the broker's auto-create); `boxwatch detect` in a
 * consumer group turns it into the alert `boxwatch run` raises, once, on stdout, in GET /v1/alerts
 * and in `<prefix>.alerts`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import { decodeValue } from '@boxwatch/sink-kafka';
import { CliProcess, IMAGE, ROOT, deleteTopics, ensureBuilt, ensureImage, readToken, tempDir, testName, until } from '../harness.js';

const prefix = `bwtest-cli-enfk-${randomBytes(3).toString('hex')}`;
const victim = testName('enfk');
const policy = `no-tmp-exec-${randomBytes(3).toString('hex')}`;
const rule = `enforce:${policy}`;
const dirs: string[] = [];
let agent: CliProcess;
let detector: CliProcess;
let agentApi: string;
let detectApi: string;
let agentToken: string;
let detectToken: string;
let out: string;

function config(dir: string, extra: string, kafka = ''): string {
  const file = join(dir, 'boxwatch.yaml');
  writeFileSync(file, `stateDir: ${dir}\nformat: ndjson\napi:\n  port: 0\nkafka:\n  brokers: 127.0.0.1:9092\n  topicPrefix: ${prefix}\n  groupId: ${prefix}-detectors\n${kafka}${extra}`);
  return file;
}

const get = async <T>(url: string, token: string): Promise<T> => (await (await fetch(url, { headers: { authorization: `Bearer ${token}` } })).json()) as T;

beforeAll(async () => {
  ensureBuilt();
  await ensureImage();
  const status = spawnSync('bash', ['scripts/kafka.sh', 'start'], { cwd: ROOT, encoding: 'utf8' });
  if (status.status !== 0) throw new Error(`local Kafka broker not available: ${status.stderr}`);
  out = tempDir();
  const agentDir = tempDir();
  const detectDir = tempDir();
  dirs.push(out, agentDir, detectDir);
  const policyFile = join(agentDir, 'policies.yaml');
  writeFileSync(policyFile, `- policy: ${policy}\n  containers: [${victim}]\n  match:\n    exec:\n      pathPrefixes: [/tmp/]\n  action: kill\n`);
  agent = new CliProcess(['agent', '--config', config(agentDir, `output: kafka\nplugins: [syscall]\nenforce:\n  policies: [${policyFile}]\n`)]);
  agentApi = await agent.apiUrl();
  agentToken = readToken(agentDir);
  // The sink has created its family topics: the detector's subscription cannot auto-create one.
  await agent.waitFor('stderr', (l) => l.json?.msg === 'kafka sink started', 60_000);
  // A fresh prefix read from the beginning: no event is missed while the group joins.
  detector = new CliProcess(['detect', '--config', config(detectDir, 'detector:\n  models: false\n', '  fromBeginning: true\n')]);
  detectApi = await detector.apiUrl();
  detectToken = readToken(detectDir);
  await detector.waitFor('stderr', (l) => l.json?.msg === 'detector consuming', 60_000);
}, 180_000);

afterAll(async () => {
  await agent?.stop();
  await detector?.stop();
  await deleteTopics(prefix);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('agent --policy → Kafka → detect', () => {
  it('declares the enforce topic with the sink partitions, and detect subscribes to it', async () => {
    const admin = new kafkajs.Kafka({ brokers: ['127.0.0.1:9092'], logLevel: kafkajs.logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      const meta = await admin.fetchTopicMetadata({ topics: [`${prefix}.enforce`] });
      // The broker's auto-create here makes 1 partition (num.partitions=1); the sink declares 6.
      expect(meta.topics[0]!.partitions).toHaveLength(6);
    } finally {
      await admin.disconnect();
    }
    const consuming = detector.stderr.find((l) => l.json?.msg === 'detector consuming')!;
    expect(consuming.json!.topics).toContain(`${prefix}.enforce`);
    expect(consuming.json!.topics).not.toContain(`${prefix}.alerts`);
  });

  it('turns the kill into one alert in detect, like run', async () => {
    const r = spawnSync('docker', ['run', '--rm', '--name', victim, '--network', 'none', '-v', `${out}:/out`, IMAGE, 'sh', '-c', `cp /bin/busybox /tmp/sh && /tmp/sh -c 'echo ran > /out/a'; echo $? > /out/a.status`], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(existsSync(join(out, 'a'))).toBe(false);
    expect(readFileSync(join(out, 'a.status'), 'utf8').trim()).toBe('137');

    const line = await detector.waitFor('stdout', (l) => l.json?.rule === rule, 30_000);
    const alert = line.json as { priority: string; message: string; container: { name: string }; tags: string[]; evidence: Array<{ type: string; path: string; enforced_as: string }> };
    expect(alert.priority).toBe('critical');
    expect(alert.container.name).toBe(victim);
    expect(alert.tags).toEqual(['enforce', 'kill']);
    expect(alert.message).toMatch(new RegExp(`^Policy ${policy}: \\S+ \\(pid \\d+\\) in container ${victim} killed: exec of /tmp/sh$`));
    expect(alert.evidence[0]).toMatchObject({ type: 'enforce.exec', path: '/tmp/sh', enforced_as: 'kill', policy });

    // Once: every enforce event the agent emitted reached detect's enforce sink exactly once.
    const agentEnforce = await until(async () => {
      const s = await get<{ collector: { plugins: { enforce: { events: number } }; sinks: Record<string, { queued?: number }> } }>(`${agentApi}/v1/stats`, agentToken);
      const events = s.collector.plugins.enforce.events;
      return events >= 1 ? events : null;
    }, 10_000, 'the agent counted its enforce event');
    expect(agentEnforce).toBe(1);
    const received = await until(async () => {
      const n = (await get<{ enforceAlerts: { received: number } }>(`${detectApi}/v1/stats`, detectToken)).enforceAlerts.received;
      return n >= 1 ? n : null;
    }, 20_000, 'detect received the enforce event');
    expect(received).toBe(1);
    const listed = await get<Array<{ rule: string; container: { name: string } }>>(`${detectApi}/v1/alerts?rule=${encodeURIComponent(rule)}`, detectToken);
    expect(listed).toHaveLength(1);
    expect(listed[0]!.container.name).toBe(victim);
    expect(detector.stdout.filter((l) => l.json?.rule === rule)).toHaveLength(1);

    // And the alerts topic, read to its end once detect's alert sink has delivered everything.
    await until(async () => {
      const s = await get<{ alertSink: { delivered: number; queued: number } }>(`${detectApi}/v1/stats`, detectToken);
      return s.alertSink.delivered >= 1 && s.alertSink.queued === 0;
    }, 20_000, 'detect delivered its alerts to Kafka');
    const kafka = new kafkajs.Kafka({ brokers: ['127.0.0.1:9092'], logLevel: kafkajs.logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    const ends = await admin.fetchTopicOffsets(`${prefix}.alerts`);
    await admin.disconnect();
    const remaining = new Map(ends.filter((p) => p.high !== '0').map((p) => [p.partition, BigInt(p.high)]));
    const consumer = kafka.consumer({ groupId: `${prefix}-check` });
    const inTopic: Array<{ rule?: string }> = [];
    await consumer.connect();
    await consumer.subscribe({ topic: `${prefix}.alerts`, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('alerts topic not read to its end')), 20_000);
      if (remaining.size === 0) resolve();
      void consumer.run({
        eachMessage: async ({ partition, message }) => {
          for (const item of decodeValue(message.value).items) if (!(item instanceof Error)) inTopic.push(item as unknown as { rule?: string });
          if (BigInt(message.offset) + 1n >= (remaining.get(partition) ?? 0n)) remaining.delete(partition);
          if (remaining.size === 0) {
            clearTimeout(t);
            resolve();
          }
        },
      });
    });
    await consumer.disconnect();
    expect(inTopic.filter((a) => a.rule === rule)).toHaveLength(1);
  });
});
