/**
 * Learned models on real data: two busybox containers of one image (an httpd and a wget loop against
 * it) are watched by the real plugins while the image's profile learns; a second stretch of the same
 * normal run raises no model alert; then a new binary run and a new peer container are each reported
 * by the novelty model, naming the container.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Containers, dockerExec, ensureImage, startPipeline, waitFor, type Pipeline } from './harness.js';

const LEARN_MS = 15_000;
const run = `m${Math.random().toString(36).slice(2, 7)}`;
let p: Pipeline;
const boxes = new Containers();

beforeAll(async () => {
  await ensureImage();
  // Other engineers' containers run the same test image: only this run's containers feed the profile.
  p = await startPipeline({ rules: [], models: { learning: { learnMs: LEARN_MS } } }, {}, (e) => e.container?.name?.startsWith(`bwtest-det-${run}-`) === true);
});

afterAll(async () => {
  await boxes.removeAll();
  await p?.close();
});

const modelAlerts = () => p.alerts.filter((a) => a.model !== undefined);

describe('models on a real workload', () => {
  test('learn httpd + wget loop, quiet second run, then a new binary and a new peer are reported', async () => {
    const web = await boxes.start(`${run}-web`, [], ['sh', '-c', 'echo hello > /tmp/index.html && exec httpd -f -p 8080 -h /tmp']);
    const webIp = await boxes.ip(web);
    const client = await boxes.start(`${run}-client`, [], ['sh', '-c', `while true; do wget -q -O /dev/null http://${webIp}:8080/index.html; sleep 0.3; done`]);

    // Learning: the image's profile goes learning → validating → detecting on event time.
    await waitFor('the image to finish learning', () => p.detector.progress().images.length === 1 && p.detector.phase === 'detecting', LEARN_MS + 30_000);
    expect(modelAlerts()).toEqual([]);
    const learned = p.detector.modelsJSON().profiles[0]!;
    expect(learned.novelty.sets.peer).toContain(web);
    expect(learned.frequency.trained).toBe(true);

    // A second normal run: the same loop for a while more, no model alert.
    const seenBefore = p.detector.stats().events;
    await new Promise((r) => setTimeout(r, 8000));
    expect(p.detector.stats().events - seenBefore).toBeGreaterThan(20);
    expect(modelAlerts().map((a) => `${a.model}:${a.key}: ${a.message}`)).toEqual([]);

    // Injected: a binary the image never ran.
    expect(await dockerExec(client, 'uname', '-a')).toBe(0);
    const exe = await waitFor('novelty exec alert', () => modelAlerts().find((a) => a.key === 'exec:/bin/uname'));
    expect(exe.model).toBe('novelty');
    expect(exe.container?.name).toBe(client);
    // busybox's uname: the alert names the file that really ran; the key is the path exec'd
    expect(exe.process).toMatchObject({ exe: '/bin/busybox', argv: ['uname', '-a'] });

    // Injected: the client talks to a container it never talked to.
    const intruder = await boxes.start(`${run}-intruder`, [], ['sh', '-c', 'echo x > /tmp/index.html && exec httpd -f -p 8080 -h /tmp']);
    const intruderIp = await boxes.ip(intruder);
    // cnetwork names the peer once its Docker-backed address index has the new container (refreshed on
    // Docker's start event): repeat the request until a connection to it carries the peer's name.
    const toIntruder = () => p.events.filter((e) => e.type === 'net.connect' && e.container?.name === client && (e as unknown as { daddr: string }).daddr === intruderIp);
    for (let i = 0; i < 10 && !toIntruder().some((e) => (e as unknown as { peer_container: unknown }).peer_container); i++) {
      await dockerExec(client, 'wget', '-q', '-O', '/dev/null', `http://${intruderIp}:8080/index.html`);
      await new Promise((r) => setTimeout(r, 1000));
    }
    expect(toIntruder().map((e) => (e as unknown as { peer_container: { name: string } | null }).peer_container?.name ?? null)).toContain(intruder);
    const peer = await waitFor('novelty peer alert', () => modelAlerts().find((a) => a.key === `peer:${intruder}`));
    expect(peer.container?.name).toBe(client);
    expect(peer.message).toContain(intruder);
  });
});
