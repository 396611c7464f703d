#!/usr/bin/env node
/**
 * Runs inside a matrix guest (scripts/vm/matrix.mjs boots it): for every hook variant of every
 * BPF plugin, and of core's kernel cgroup-name table, forced one at a time, load and attach it and
 * prove it delivers a real event from a "container" made without Docker — a process in new pid,
 * mount and network namespaces, in a cgroup named the way Docker's systemd driver names its
 * (`system.slice/docker-<64 hex>.scope`); the event must carry that container id. Also a syscall
 * counter check: a known number of syscalls counted exactly.
 * Prints one JSON object: { release, features, checks: [{ plugin, variant, status, detail }] }.
 * status: 'ok' | 'failed' | 'unavailable' (the kernel lacks a feature the variant needs).
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, rmdirSync, statSync } from 'node:fs';
import { release } from 'node:os';
import { CGROUP_NAME_VARIANTS, DockerContainerRegistry, kernelHasTracepoint, libbpfVersion, probeFeatures, silentLogger } from '@boxwatch/core';
import { testPluginContext } from '@boxwatch/core/testing';
import { SyscallPlugin } from '@boxwatch/plugin-syscall';
import { FileOpenPlugin } from '@boxwatch/plugin-fileopen';
import { CNetworkPlugin } from '@boxwatch/plugin-cnetwork';

const features = probeFeatures();
// The cgroup v2 root: the guests mount it at /sys/fs/cgroup; a hybrid host (a dev run) at /unified.
const CGROUP2 = existsSync('/sys/fs/cgroup/cgroup.controllers') ? '/sys/fs/cgroup' : '/sys/fs/cgroup/unified';
const TIMEOUT_MS = 60_000; // software emulation: everything is slow

/**
 * The feature report that makes the variant at `index` the first one whose requirements hold: for
 * each variant before it, one feature it needs (and this one does not) is reported missing.
 */
function forcing(variants, index) {
  const forced = structuredClone(features);
  for (const earlier of variants.slice(0, index)) {
    const f = earlier.requires.find((r) => !variants[index].requires.includes(r));
    if (f) forced[f] = { status: 'unsupported', detail: `forced off to test the ${variants[index].name} variant` };
  }
  return forced;
}

const missing = (variant) => [
  ...variant.requires.filter((r) => features[r].status !== 'supported'),
  ...(variant.tracepoints ?? []).filter((t) => !kernelHasTracepoint(t)).map((t) => `tracepoint ${t}`),
];

/** A fake container: `script` in new pid/mount/net namespaces, in a docker-<id>.scope cgroup. */
async function inContainer(script) {
  const id = randomBytes(32).toString('hex');
  const cg = `${CGROUP2}/system.slice/docker-${id}.scope`;
  mkdirSync(cg, { recursive: true });
  const child = spawn('sh', ['-c', `echo $$ > ${cg}/cgroup.procs && exec unshare --pid --fork --mount-proc --net sh -c '${script}'`], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  child.stdout.resume();
  const code = await new Promise((r) => child.on('exit', (c) => r(c)));
  return { id, cg, code, err, cleanup: () => rmdirSync(cg) };
}

async function until(check, ms = TIMEOUT_MS) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = check();
    if (v) return v;
    if (Date.now() > deadline) return undefined;
    await new Promise((r) => setTimeout(r, 100));
  }
}

const checks = [];
async function check(plugin, variant, fn) {
  const t0 = Date.now();
  process.stderr.write(`check ${plugin} ${variant} ...\n`);
  try {
    const detail = await fn();
    checks.push({ plugin, variant, status: 'ok', detail, seconds: (Date.now() - t0) / 1000 });
  } catch (err) {
    checks.push({ plugin, variant, status: 'failed', detail: String(err?.stack ?? err).split('\n').slice(0, 4).join(' | '), seconds: (Date.now() - t0) / 1000 });
  }
}

/** Start `plugin` with the forced report, run `script` in a fake container, wait for `want(event, id)`. */
async function delivers(makePlugin, variants, index, script, want, what) {
  const forced = forcing(variants, index);
  const registry = new DockerContainerRegistry({ logger: silentLogger });
  await registry.start({ features: forced });
  const events = [];
  const plugin = makePlugin();
  const { ctx, failures } = testPluginContext({ containers: registry, emit: (e) => void events.push(e), logger: silentLogger, features: forced });
  await plugin.start(ctx);
  try {
    const chosen = plugin.stats().variant;
    if (chosen !== variants[index].name) throw new Error(`the ${chosen} variant ran, not ${variants[index].name}`);
    const c = await inContainer(script);
    try {
      if (c.code !== 0) throw new Error(`the container script failed (${c.code}): ${c.err.trim()}`);
      const e = await until(() => events.find((ev) => want(ev) && ev.container?.id === c.id));
      if (!e) {
        const ofIt = events.filter((ev) => want(ev));
        throw new Error(`no ${what} from the container within ${TIMEOUT_MS / 1000} s (${events.length} events; ${ofIt.length} ${what} with other containers: ${JSON.stringify(ofIt.slice(0, 2).map((x) => x.container))})`);
      }
      if (failures.length) throw new Error(`plugin failures: ${failures.map(String).join('; ')}`);
      return `${what} with the container id`;
    } finally {
      c.cleanup();
    }
  } finally {
    await plugin.stop();
    registry.close();
  }
}

// core: the addon loads in a root file system without libbpf, libelf or zlib (it embeds them).
await check('core addon', 'embedded libbpf', async () => {
  const libs = execFileSync('sh', ['-c', 'ls /lib/*/libbpf.so* /usr/lib/*/libbpf.so* /lib/*/libelf.so* /usr/lib/*/libelf.so* 2>/dev/null || true']).toString().trim();
  if (libs) throw new Error(`the guest root has ${libs.split('\n').join(', ')}: it cannot prove the addon is self-contained`);
  return `loaded with no libbpf/libelf in the guest; embedded libbpf ${libbpfVersion()}`;
});

// core: the kernel cgroup-name table, each variant: a fresh container is named by the kernel.
for (const [i, v] of CGROUP_NAME_VARIANTS.entries()) {
  if (missing(v).length) {
    checks.push({ plugin: 'core cgroup-names', variant: v.name, status: 'unavailable', detail: `needs ${missing(v).join(', ')}` });
    continue;
  }
  await check('core cgroup-names', v.name, async () => {
    const registry = new DockerContainerRegistry({ logger: silentLogger });
    await registry.start({ features: forcing(CGROUP_NAME_VARIANTS, i) });
    try {
      const names = registry.stats().kernelNames;
      if (!('variant' in names)) throw new Error(`kernel cgroup-name table unavailable: ${names.unavailable}`);
      if (names.variant !== v.name) throw new Error(`the ${names.variant} variant ran, not ${v.name}`);
      // The container is gone (cgroup removed) before it is looked up: only the kernel's record names it.
      const c = await inContainer('true');
      const cgroupId = BigInt(statSync(c.cg).ino);
      c.cleanup();
      const found = registry.byCgroupId(cgroupId);
      if (found?.id !== c.id) throw new Error(`cgroup ${cgroupId} resolved to ${JSON.stringify(found)}`);
      return 'a docker-<id>.scope cgroup already removed is resolved to its id from the kernel table';
    } finally {
      registry.close();
    }
  });
}

// plugin-syscall: process.exec from the container; the counters count an exact number of syscalls.
{
  const plugin = new SyscallPlugin({ detail: ['mkdir', 'mkdirat'] });
  const variants = plugin.variants;
  for (const [i, v] of variants.entries()) {
    if (missing(v).length) {
      checks.push({ plugin: 'syscall', variant: v.name, status: 'unavailable', detail: `needs ${missing(v).join(', ')}` });
      continue;
    }
    await check('syscall', v.name, () =>
      delivers(() => new SyscallPlugin({ detail: ['mkdir', 'mkdirat'] }), variants, i, 'rmdir /tmp/bw-matrix 2>/dev/null; mkdir /tmp/bw-matrix && rmdir /tmp/bw-matrix', (e) => e.type.startsWith('syscall.mkdir') && e.path === '/tmp/bw-matrix', 'syscall.mkdir'),
    );
    await check('syscall', `${v.name} counters`, async () => {
      const N = 5000;
      const forced = forcing(variants, i);
      const registry = new DockerContainerRegistry({ logger: silentLogger });
      await registry.start({ features: forced });
      const events = [];
      const p = new SyscallPlugin({ detail: [], drainIntervalMs: 200 });
      const { ctx } = testPluginContext({ containers: registry, emit: (e) => void events.push(e), logger: silentLogger, features: forced });
      await p.start(ctx);
      try {
        // busybox dd: one read and one write per block, bs=1 count=N
        const c = await inContainer(`busybox dd if=/dev/zero of=/dev/null bs=1 count=${N} status=none`);
        c.cleanup();
        const of = (name) => events.filter((e) => e.type === 'syscall.count' && e.container?.id === c.id && e.comm === 'busybox' && e.syscall?.name === name).reduce((s, e) => s + e.count, 0);
        const reads = () => of('read');
        await until(() => reads() >= N, 20_000);
        await new Promise((r) => setTimeout(r, 1000));
        // `busybox dd` (comm busybox), static: its reads and writes are exactly its N blocks
        const got = { read: reads(), write: of('write') };
        if (got.read !== N || got.write !== N) throw new Error(`counted ${JSON.stringify(got)} for dd's ${N} one-byte blocks`);
        return `exactly ${N} read() and ${N} write() counted for dd's ${N} one-byte blocks`;
      } finally {
        await p.stop();
        registry.close();
      }
    });
  }
}

// plugin-fileopen: file.open of /etc/hostname from the container, every variant and path walk.
{
  const variants = new FileOpenPlugin().variants;
  for (const [i, v] of variants.entries()) {
    for (const pathWalk of v.name === 'tp_btf' ? ['auto', 'probe-read'] : ['auto']) {
      const name = pathWalk === 'auto' ? v.name : `${v.name} (${pathWalk} walk)`;
      if (missing(v).length) {
        checks.push({ plugin: 'fileopen', variant: name, status: 'unavailable', detail: `needs ${missing(v).join(', ')}` });
        continue;
      }
      await check('fileopen', name, () =>
        delivers(() => new FileOpenPlugin({ variant: v.name, pathWalk }), variants, i, 'cat /etc/hostname > /dev/null', (e) => e.type === 'file.open' && e.path === '/etc/hostname', 'file.open /etc/hostname'),
      );
    }
  }
}

// plugin-cnetwork: tp_btf: net.connect on the container's loopback; kprobe: a banned pair's traffic.
{
  const variants = new CNetworkPlugin().variants;
  // to 127.0.0.2: the loopback route gives the client the source 127.0.0.1, so the pair is two addresses
  const traffic = 'busybox ip link set lo up && (busybox nc -l -p 7000 > /dev/null &) && sleep 1 && echo matrix | busybox nc 127.0.0.2 7000';
  for (const [i, v] of variants.entries()) {
    if (missing(v).length) {
      checks.push({ plugin: 'cnetwork', variant: v.name, status: 'unavailable', detail: `needs ${missing(v).join(', ')}` });
      continue;
    }
    if (v.name === 'kprobe') {
      await check('cnetwork', v.name, () =>
        delivers(() => new CNetworkPlugin({ rules: [{ id: 'loop', a: '127.0.0.1', b: '127.0.0.2' }] }), variants, i, traffic, (e) => e.type === 'net.banned' && e.dport === 7000, 'net.banned (loopback pair)'),
      );
    } else {
      await check('cnetwork', v.name, () => delivers(() => new CNetworkPlugin(), variants, i, traffic, (e) => e.type === 'net.connect' && e.dport === 7000, 'net.connect :7000'));
    }
  }
}

process.stdout.write(`${JSON.stringify({ release: release(), features, checks })}\n`);
