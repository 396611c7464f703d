import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { release } from 'node:os';
import { join } from 'node:path';
import { BpfObject } from './bpf-object.js';
import { BoxwatchError, isBoxwatchError } from './errors.js';
import { ALL_FEATURES, type FeatureName, type FeatureReport, type FeatureResult } from './features.js';
import { native, PACKAGE_ROOT } from './native.js';
import { MapType } from './map.js';

const PROBE_OBJECT = join(PACKAGE_ROOT, 'bpf/probe/probe.bpf.o');

const supported = (detail: string): FeatureResult => ({ status: 'supported', detail });
const unsupported = (detail: string): FeatureResult => ({ status: 'unsupported', detail });
const inconclusive = (detail: string): FeatureResult => ({ status: 'inconclusive', detail });

/** errnos that mean "this kernel does not have it" rather than "something else went wrong". */
const MISSING_ERRNOS = new Map<number, string>([
  [1, 'EPERM'],
  [2, 'ENOENT'],
  [22, 'EINVAL'],
  [95, 'EOPNOTSUPP'],
  [524, 'ENOTSUPP'],
]);

/**
 * Load (and attach) exactly one program of the probe object. Loading proves the verifier and
 * program type; attaching proves the hook exists (kprobes load fine on kernels without a kprobe
 * PMU and only fail at attach).
 */
function probeProgram(program: string, opts: { attach: boolean; tailCall?: boolean }): FeatureResult {
  let obj: BpfObject | null = null;
  try {
    obj = BpfObject.open(PROBE_OBJECT);
    for (const p of obj.programs()) obj.setAutoload(p.name, p.name === program || (opts.tailCall === true && p.name === 'probe_tail_target'));
    try {
      obj.load();
    } catch (err) {
      return classify(err, 'load');
    }
    if (opts.tailCall) {
      obj.setTailCall('probe_jmp', 0, 'probe_tail_target');
      return supported('program with bpf_tail_call loaded and its PROG_ARRAY slot set');
    }
    if (!opts.attach) return supported('loaded');
    try {
      obj.attach(program).close();
    } catch (err) {
      return classify(err, 'attach');
    }
    return supported('loaded and attached');
  } catch (err) {
    return inconclusive(`probe failed: ${(err as Error).message}`);
  } finally {
    obj?.close();
  }
}

function classify(err: unknown, step: string): FeatureResult {
  const errno = isBoxwatchError(err) ? err.errno : undefined;
  const name = errno !== undefined ? MISSING_ERRNOS.get(errno) : undefined;
  if (isBoxwatchError(err, 'ERR_VERIFIER') && step === 'load') {
    return unsupported(`${step} rejected by the verifier (errno ${errno})`);
  }
  if (name) return unsupported(`${step} failed with ${name}`);
  return inconclusive(`${step} failed: ${(err as Error).message}`);
}

function probeBtf(): FeatureResult {
  return existsSync('/sys/kernel/btf/vmlinux') ? supported('/sys/kernel/btf/vmlinux present') : unsupported('/sys/kernel/btf/vmlinux missing (CONFIG_DEBUG_INFO_BTF off)');
}

function probeRingbuf(): FeatureResult {
  try {
    return native().probeMapType(MapType.RINGBUF) === 1 ? supported('BPF_MAP_TYPE_RINGBUF can be created') : unsupported('BPF_MAP_TYPE_RINGBUF rejected');
  } catch (err) {
    return inconclusive((err as Error).message);
  }
}

function cgroupMounts(): Array<{ type: string; path: string; options: string }> {
  try {
    return readFileSync('/proc/self/mounts', 'utf8')
      .split('\n')
      .map((l) => l.split(' '))
      .filter((f) => f[2] === 'cgroup' || f[2] === 'cgroup2')
      .map((f) => ({ type: f[2] as string, path: f[1] as string, options: f[3] as string }));
  } catch {
    return [];
  }
}

function probeCgroup(version: 1 | 2): FeatureResult {
  const mounts = cgroupMounts();
  if (version === 2) {
    const m = mounts.find((x) => x.type === 'cgroup2');
    return m ? supported(`cgroup2 mounted at ${m.path}`) : unsupported('no cgroup2 mount');
  }
  const v1 = mounts.filter((x) => x.type === 'cgroup');
  return v1.length ? supported(`cgroup v1 controllers mounted: ${v1.map((m) => m.path).join(', ')}`) : unsupported('no cgroup v1 controller mounted');
}

const PROBES: Record<FeatureName, () => FeatureResult> = {
  btf: probeBtf,
  ringbuf: probeRingbuf,
  tp_btf: () => probeProgram('probe_tp_btf', { attach: true }),
  raw_tp: () => probeProgram('probe_raw_tp', { attach: true }),
  tracepoint: () => probeProgram('probe_tracepoint', { attach: true }),
  kprobe: () => probeProgram('probe_kprobe', { attach: true }),
  kprobe_multi: () => probeProgram('probe_kprobe_multi', { attach: true }),
  fentry: () => probeProgram('probe_fentry', { attach: true }),
  // BPF LSM: the program must load (CONFIG_BPF_LSM, no lockdown refusal) and attach (bpf in lsm=).
  lsm: () => probeProgram('probe_lsm', { attach: true }),
  tail_call: () => probeProgram('probe_tail_caller', { attach: false, tailCall: true }),
  bpf_loop: () => probeProgram('probe_bpf_loop', { attach: false }),
  cgroup_v1: () => probeCgroup(1),
  cgroup_v2: () => probeCgroup(2),
};

const TRACEFS_DIRS = ['/sys/kernel/tracing', '/sys/kernel/debug/tracing'];

/**
 * Classic tracepoints and kprobes are attached through tracefs ids; many minimal VMs boot without
 * tracefs mounted. As root we mount it (what `perf` and Falco do) rather than report the hooks
 * missing. Returns what happened, for the tracepoint probe's detail.
 */
export function ensureTracefs(): string {
  if (TRACEFS_DIRS.some((d) => existsSync(join(d, 'events')))) return 'tracefs mounted';
  try {
    execFileSync('mount', ['-t', 'tracefs', 'tracefs', '/sys/kernel/tracing'], { stdio: 'ignore' });
    return existsSync('/sys/kernel/tracing/events') ? 'tracefs was not mounted: mounted it at /sys/kernel/tracing' : 'tracefs mount produced no events directory';
  } catch (err) {
    return `tracefs is not mounted and mounting it failed: ${(err as Error).message}`;
  }
}

let cached: FeatureReport | null = null;

/**
 * Probing loads a dozen programs (libbpf re-parses the kernel's BTF for each: ~150 ms on a busy
 * 2-core machine). What the kernel supports cannot change until it reboots, so the report is kept
 * per boot in /run (a tmpfs, emptied at boot), keyed by boot id, kernel release, libbpf version and
 * the probe object itself.
 */
const BOOT_CACHE = process.env.BOXWATCH_FEATURE_CACHE ?? '/run/boxwatch/features.json';

function cacheKey(): string {
  let bootId = '';
  try {
    bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    /* no procfs: key on the rest */
  }
  return [bootId, release(), native().libbpfVersion(), statSync(PROBE_OBJECT).mtimeMs].join('|');
}

function readBootCache(key: string): FeatureReport | null {
  try {
    const c = JSON.parse(readFileSync(BOOT_CACHE, 'utf8')) as { key?: string; report?: FeatureReport };
    if (c.key !== key || !c.report) return null;
    // A report from an older boxwatch may lack features added since: probe again then.
    return ALL_FEATURES.every((f) => c.report?.[f]?.status) ? c.report : null;
  } catch {
    return null;
  }
}

function writeBootCache(key: string, report: FeatureReport): void {
  try {
    mkdirSync(BOOT_CACHE.replace(/\/[^/]*$/, ''), { recursive: true, mode: 0o755 });
    const tmp = `${BOOT_CACHE}.${process.pid}`;
    writeFileSync(tmp, JSON.stringify({ key, report }), { mode: 0o644 });
    renameSync(tmp, BOOT_CACHE);
  } catch {
    /* not root, or /run is read-only: probe again next time */
  }
}

/**
 * Probe the running kernel for every feature boxwatch plugins may need. Cached for the process
 * and, per boot, in /run/boxwatch (pass `fresh` to probe again, as `boxwatch doctor` does). Needs
 * root (CAP_BPF + CAP_PERFMON) for the BPF probes.
 */
export function probeFeatures(options: { fresh?: boolean } = {}): FeatureReport {
  if (cached && !options.fresh) return cached;
  if (!existsSync(PROBE_OBJECT)) {
    throw new BoxwatchError('ERR_STATE', `feature probe object missing: ${PROBE_OBJECT} (run npm run build in packages/core)`);
  }
  // Hooks that attach through tracefs need it mounted whether or not the report comes from cache.
  const tracefs = ensureTracefs();
  const key = cacheKey();
  const fromBoot = options.fresh ? null : readBootCache(key);
  if (fromBoot) {
    cached = fromBoot;
    return fromBoot;
  }
  const report = {} as FeatureReport;
  for (const f of ALL_FEATURES) report[f] = PROBES[f]();
  for (const f of ['tracepoint', 'kprobe'] as const) report[f] = { ...report[f], detail: `${report[f].detail}; ${tracefs}` };
  cached = report;
  writeBootCache(key, report);
  return report;
}
