/**
 * Two processes over a real broker: `boxwatch agent` (events to Kafka) → `boxwatch detect` (consumer
 * group) → alert on stdout, in GET /v1/alerts, on the SSE stream and in Kafka `<prefix>.alerts`.
 * Both are configured through YAML files, as a user would.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import { CliProcess, ROOT, deleteTopics, ensureBuilt, ensureImage, execIn, readToken, removeContainers, runContainer, tempDir, testName } from '../harness.js';

const names: string[] = [];
const prefix = `bwtest-cli-${randomBytes(3).toString('hex')}`;
let agent: CliProcess;
let detector: CliProcess;
let detectApi: string;
let detectToken: string;

function config(dir: string, extra: string): string {
  const file = join(dir, 'boxwatch.yaml');
  writeFileSync(
    file,
    `stateDir: ${dir}
format: ndjson
api:
  port: 0
kafka:
  brokers: 127.0.0.1:9092
  topicPrefix: ${prefix}
  groupId: ${prefix}-detectors
${extra}`,
  );
  return file;
}

beforeAll(async () => {
  ensureBuilt();
  await ensureImage();
  const status = spawnSync('bash', ['scripts/kafka.sh', 'start'], { cwd: ROOT, encoding: 'utf8' });
  if (status.status !== 0) throw new Error(`local Kafka broker not available: ${status.stderr}`);
  const agentDir = tempDir();
  agent = new CliProcess(['agent', '--config', config(agentDir, 'output: kafka\nplugins: [syscall, fileopen]\n')]);
  await agent.apiUrl();
  const detectDir = tempDir();
  detector = new CliProcess(['detect', '--config', config(detectDir, 'detector:\n  models: false\n')]);
  detectApi = await detector.apiUrl();
  detectToken = readToken(detectDir);
  await detector.waitFor('stderr', (l) => l.json?.msg === 'detector consuming', 60_000);
});

afterAll(async () => {
  await removeContainers(names);
  await agent?.stop();
  await detector?.stop();
  await deleteTopics(prefix);
});

describe('agent → Kafka → detect', () => {
  it('turns a shadow read in a container into an alert in the detector process', async () => {
    const name = testName('kafka');
    names.push(name);
    await runContainer(name, 'sleep 600');
    const sse = new AbortController();
    const streamed: string[] = [];
    const res = await fetch(`${detectApi}/v1/alerts/stream?rule=${encodeURIComponent('Read sensitive file')}`, { headers: { authorization: `Bearer ${detectToken}` }, signal: sse.signal });
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    void (async () => {
      const dec = new TextDecoder();
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) streamed.push(dec.decode(chunk));
      } catch {
        /* aborted */
      }
    })();

    // The runtime API names the container asynchronously: read until an alert carries the name.
    let line;
    for (let attempt = 0; attempt < 10 && !line; attempt++) {
      const from = detector.stdout.length;
      await execIn(name, ['cat', '/etc/shadow']);
      line = await detector
        .waitFor('stdout', (l) => l.json?.rule === 'Read sensitive file' && (l.json.container as { name?: string } | null)?.name === name, 15_000, from)
        .catch(() => undefined);
    }
    expect(line, 'alert in the detect process').toBeDefined();
    const alert = line!.json as { comm: string; container: { id: string } };
    expect(alert.comm).toBe('cat');
    console.log(`[measured] agent → Kafka → detect: alert line ${line!.at - Date.parse(String(line!.json!.time))} ms after the kernel event`);

    const q = await fetch(`${detectApi}/v1/alerts?rule=${encodeURIComponent('Read sensitive file')}&container=${name}&priority=warning`, { headers: { authorization: `Bearer ${detectToken}` } });
    const list = (await q.json()) as Array<{ container: { name: string } }>;
    expect(list.length).toBeGreaterThan(0);
    expect(list[0]!.container.name).toBe(name);
    expect((await fetch(`${detectApi}/v1/alerts?priority=urgent`, { headers: { authorization: `Bearer ${detectToken}` } })).status).toBe(400);
    expect((await fetch(`${detectApi}/v1/alerts`)).status).toBe(401);

    // The SSE stream carried it too.
    const deadline = Date.now() + 10_000;
    while (!streamed.join('').includes(name) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    sse.abort();
    expect(streamed.join('')).toMatch(/event: alert\ndata: \{.*"rule":"Read sensitive file"/);

    // And the alerts topic.
    const kafka = new kafkajs.Kafka({ brokers: ['127.0.0.1:9092'], logLevel: kafkajs.logLevel.NOTHING });
    const consumer = kafka.consumer({ groupId: `${prefix}-check` });
    await consumer.connect();
    await consumer.subscribe({ topic: `${prefix}.alerts`, fromBeginning: true });
    const found = await new Promise<boolean>((resolve) => {
      const t = setTimeout(() => resolve(false), 20_000);
      void consumer.run({
        eachMessage: async ({ message }) => {
          if (message.value?.toString().includes(name)) {
            clearTimeout(t);
            resolve(true);
          }
        },
      });
    });
    await consumer.disconnect();
    expect(found).toBe(true);
  });
});
