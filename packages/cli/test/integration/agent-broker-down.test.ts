/**
 * The agent with output kafka while no broker answers: collection must start anyway (the Kafka
 * sink queues within its bound and retries in the background), and the control API reports it.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { CliProcess, ensureBuilt, ensureImage, readToken, removeContainers, runContainer, until } from '../harness.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

let agent: CliProcess | undefined;
const name = `bwtest-cli-nobroker-${Math.random().toString(36).slice(2, 8)}`;

afterAll(async () => {
  await agent?.stop();
  await removeContainers([name]);
});

describe('agent with an unreachable broker', () => {
  it('starts collecting, serves its API, and queues for the sink instead of exiting', async () => {
    ensureBuilt();
    await ensureImage();
    const state = mkdtempSync(join(tmpdir(), 'bw-agent-nobroker-'));
    // Port 1 on loopback: nothing listens, connections are refused at once.
    agent = new CliProcess(['agent', '--output', 'kafka', '--brokers', '127.0.0.1:1', '--state-dir', state, '--api-port', '0']);
    const api = await agent.apiUrl();
    const token = readToken(state);
    // A container doing something, so there are events for the sink to hold.
    await runContainer(name, 'while :; do cat /etc/hostname > /dev/null; sleep 0.2; done');
    await agent.waitFor('stderr', (l) => String(l.json?.msg ?? '').startsWith('sink could not start'), 60_000);
    const stats = await until(async () => {
      const r = await fetch(`${api}/v1/stats`, { headers: { authorization: `Bearer ${token}` } });
      const { collector: s } = (await r.json()) as { collector: { sinks: Record<string, { received: number; queued: number; delivered: number }>; plugins: Record<string, { state: string }> } };
      return s.sinks.kafka && s.sinks.kafka.received > 0 ? s : null;
    }, 60_000, 'events reaching the kafka sink');
    expect(stats.plugins.syscall?.state).toBe('running');
    expect(stats.sinks.kafka!.delivered).toBe(0);
    expect(stats.sinks.kafka!.queued).toBeGreaterThan(0);
  });
});
