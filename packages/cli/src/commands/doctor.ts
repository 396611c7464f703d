import { existsSync } from 'node:fs';
import { release } from 'node:os';
import { ALL_FEATURES, CGROUP_NAME_VARIANTS, chooseVariant, libbpfVersion, probeFeatures, type FeatureReport, isBoxwatchError } from '@boxwatch/core';
import Docker from 'dockerode';
import { ENFORCE_VARIANTS } from '@boxwatch/plugin-enforce';
import { PLUGIN_NAMES, createPlugin } from '../plugins.js';

export interface DoctorReport {
  kernel: string;
  root: boolean;
  libbpf: string;
  features: FeatureReport;
  plugins: Array<{ name: string; variant: string | null; skipped: Array<{ variant: string; missing: string[] }>; error?: string }>;
  containerRuntime: { reachable: boolean; detail: string };
  /** How containers are named in the kernel (the cgroup-name table's hook variant), or why they cannot be. */
  containerNames: { variant: string | null; error?: string };
  /** The enforcement variant policies would run with, and what `deny` becomes on this kernel. */
  enforcement: { variant: string | null; denyEnforcedAs: 'deny' | 'kill' | null; skipped: Array<{ variant: string; missing: string[] }>; error?: string };
}

/** What this machine can run: kernel features, the hook variant each plugin would use, the runtime API. */
export async function doctor(): Promise<DoctorReport> {
  // Doctor answers for the kernel as it is now, not from the per-boot cache.
  const features = probeFeatures({ fresh: true });
  const plugins: DoctorReport['plugins'] = [];
  for (const name of PLUGIN_NAMES) {
    const plugin = createPlugin(name);
    if (plugin.variants.length === 0) {
      plugins.push({ name, variant: 'userspace (no BPF program)', skipped: [] });
      continue;
    }
    try {
      const choice = chooseVariant(name, plugin.variants, features);
      plugins.push({ name, variant: choice.variant.name, skipped: choice.skipped });
    } catch (err) {
      plugins.push({ name, variant: null, skipped: [], error: isBoxwatchError(err) ? err.message : String(err) });
    }
  }
  let containerNames: DoctorReport['containerNames'];
  try {
    containerNames = { variant: chooseVariant('cgroup-names', CGROUP_NAME_VARIANTS, features).variant.name };
  } catch (err) {
    containerNames = { variant: null, error: (err as Error).message };
  }
  let enforcement: DoctorReport['enforcement'];
  try {
    const choice = chooseVariant('enforce', ENFORCE_VARIANTS, features);
    enforcement = { variant: choice.variant.name, denyEnforcedAs: choice.variant.name === 'lsm-deny' ? 'deny' : 'kill', skipped: choice.skipped };
  } catch (err) {
    enforcement = { variant: null, denyEnforcedAs: null, skipped: [], error: (err as Error).message };
  }
  let containerRuntime = { reachable: false, detail: 'no docker socket at /var/run/docker.sock' };
  if (existsSync('/var/run/docker.sock')) {
    try {
      const v = await new Docker().version();
      containerRuntime = { reachable: true, detail: `docker ${v.Version} (API ${v.ApiVersion})` };
    } catch (err) {
      containerRuntime = { reachable: false, detail: (err as Error).message };
    }
  }
  return { kernel: release(), root: process.getuid?.() === 0, libbpf: libbpfVersion(), features, plugins, containerRuntime, containerNames, enforcement };
}

export function formatDoctor(r: DoctorReport): string {
  const mark = (s: string) => (s === 'supported' ? 'yes' : s === 'unsupported' ? 'no ' : '?  ');
  const lines = [`kernel ${r.kernel}, libbpf ${r.libbpf} (embedded in the addon), running as ${r.root ? 'root' : 'non-root (BPF needs root)'}`, '', 'kernel features:'];
  for (const f of ALL_FEATURES) lines.push(`  ${mark(r.features[f].status)} ${f.padEnd(13)} ${r.features[f].detail}`);
  lines.push('', 'plugins:');
  for (const p of r.plugins) {
    if (p.error) {
      lines.push(`  ${p.name.padEnd(10)} cannot run: ${p.error}`);
      continue;
    }
    const fallback = p.skipped.length ? ` (fallback: ${p.skipped.map((s) => `${s.variant} needs ${s.missing.map((m) => m.split(' ')[0]).join(', ')}`).join('; ')})` : '';
    lines.push(`  ${p.name.padEnd(10)} variant ${p.variant}${fallback}`);
  }
  lines.push('', `container runtime: ${r.containerRuntime.reachable ? '' : 'NOT reachable: '}${r.containerRuntime.detail}`);
  lines.push(
    r.containerNames.variant
      ? `container names: kernel cgroup-name table (variant ${r.containerNames.variant}): containers that exit at once keep their id`
      : `container names: cgroupfs scans only (${r.containerNames.error}): containers that exit before a scan are reported without an id`,
  );
  const e = r.enforcement;
  lines.push(
    e.variant === null
      ? `enforcement: cannot run (${e.error})`
      : e.denyEnforcedAs === 'deny'
        ? `enforcement: variant ${e.variant}: deny policies refuse with -EPERM (BPF LSM)`
        : `enforcement: variant ${e.variant}: deny policies are enforced as kill at syscall entry, the syscall completes first (${e.skipped.map((s) => `${s.variant} needs ${s.missing.join(', ')}`).join('; ')})`,
  );
  return lines.join('\n');
}
