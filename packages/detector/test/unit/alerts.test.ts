/** Alert shape, deduplication with count updates, per-container rate limit, printer, response hook. */
import { createServer } from 'node:http';
import { Writable } from 'node:stream';
import { describe, expect, test } from 'vitest';
import { Alerter, AlertPrinter, Detector, type AlertEvent } from '@boxwatch/detector';
import { DB, advance, open } from '../helpers/events.js';

describe('alerter', () => {
  test('same rule+container+key within the window → one alert, then a count update on flush', () => {
    const d = new Detector({ models: false, flushIntervalMs: 0, alerts: { dedupWindowMs: 60_000 } });
    const alerts: AlertEvent[] = [];
    d.on('alert', (a) => alerts.push(a));
    for (let i = 0; i < 5; i++) d.ingest(open('/etc/shadow', 'r', { comm: 'cat', pid: 10 }));
    expect(alerts).toHaveLength(1);
    const first = alerts[0]!;
    expect(first.type).toBe('alert');
    expect(first.rule).toBe('Read sensitive file');
    expect(first.priority).toBe('warning');
    expect(first.count).toBe(1);
    expect(first.container?.name).toBe('web');
    expect(first.process.pid).toBe(10);
    expect(first.evidence[0]!.path).toBe('/etc/shadow');
    expect(first.tags).toContain('mitre_credential_access');
    const json = first.toJSON();
    expect(json.type).toBe('alert');
    expect(json.rule).toBe('Read sensitive file');
    d.flush();
    expect(alerts).toHaveLength(2);
    expect(alerts[1]!.id).toBe(first.id);
    expect(alerts[1]!.count).toBe(5);
    expect(alerts[1]!.evidence.length).toBeLessThanOrEqual(5);
    expect(first.count).toBe(1); // the first snapshot was not mutated
    // Another container is another alert.
    d.ingest(open('/etc/shadow', 'r', { comm: 'cat', pid: 10, container: DB }));
    expect(alerts).toHaveLength(3);
    // After the window, the same thing alerts again.
    advance(61_000);
    d.ingest(open('/etc/shadow', 'r', { comm: 'cat', pid: 10 }));
    expect(alerts.filter((a) => a.count === 1 && a.container?.name === 'web')).toHaveLength(2);
    void d.close();
  });

  test('rate limit per container counts drops', () => {
    const emitted: AlertEvent[] = [];
    const a = new Alerter((x) => emitted.push(x), { ratePerSec: 1, burst: 3 });
    for (let i = 0; i < 10; i++) {
      a.raise({ rule: 'r', priority: 'notice', message: `m${i}`, tags: [], key: `k${i}`, event: open(`/etc/f${i}`, 'w'), proc: null });
    }
    expect(emitted).toHaveLength(3);
    const s = a.stats();
    expect(s.dropped).toBe(7);
    expect(Object.values(s.droppedByContainer)).toEqual([7]);
  });
});

describe('printer', () => {
  test('ndjson and pretty lines', () => {
    const d = new Detector({ models: false, flushIntervalMs: 0 });
    let out = '';
    const stream = new Writable({ write(chunk, _enc, cb) { out += String(chunk); cb(); } });
    const nd = new AlertPrinter({ format: 'ndjson', stream });
    const pretty = new AlertPrinter({ format: 'pretty', stream });
    d.on('alert', (a) => { nd.write(a); pretty.write(a); });
    d.ingest(open('/etc/shadow', 'r', { comm: 'cat' }));
    const [line1, line2] = out.trim().split('\n');
    expect(JSON.parse(line1!).rule).toBe('Read sensitive file');
    expect(line2).toMatch(/WARNING\s+\[web\] Read sensitive file: Sensitive file \/etc\/shadow read by cat/);
    expect(nd.stats().delivered).toBe(1);
    void d.close();
  });
});

describe('response hook', () => {
  test('POSTs to the control API with the bearer token for configured rules only', async () => {
    const calls: { url: string; auth: string; body: unknown }[] = [];
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        calls.push({ url: req.url ?? '', auth: req.headers.authorization ?? '', body: JSON.parse(body) });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const d = new Detector({
      models: false,
      flushIntervalMs: 0,
      response: {
        url: `http://127.0.0.1:${port}`,
        token: 's3cret',
        actions: [{ on: 'Read sensitive file', path: '/v1/containers/freeze', body: (a) => ({ container: a.container?.id }) }],
      },
    });
    d.ingest(open('/etc/shadow', 'r', { comm: 'cat' }));
    d.ingest(open('/etc/crontab', 'w', { comm: 'vi' })); // another rule: no call
    await d.close();
    server.close();
    expect(calls).toHaveLength(1);
    expect(calls[0]!.url).toBe('/v1/containers/freeze');
    expect(calls[0]!.auth).toBe('Bearer s3cret');
    expect((calls[0]!.body as { container: string }).container).toMatch(/^a1b2c3d4e5f6/);
    expect(d.stats().response).toEqual({ sent: 1, failed: 0, inFlight: 0 });
  });
});
