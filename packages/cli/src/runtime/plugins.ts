import { resolve } from 'node:path';
import { isBoxwatchError, type Userspace } from '@boxwatch/core';
import { SyscallPlugin } from '@boxwatch/plugin-syscall';
import { EnforcePlugin, loadPolicyFile } from '@boxwatch/plugin-enforce';
import { createPlugin } from '../plugins.js';
import type { BoxwatchConfig } from '../config/schema.js';
import type { ConfigSource } from '../config/load.js';
import type { EnforcePolicyService } from './enforce-policies.js';

/**
 * Build the configured plugins. A plugin rejecting its options is a config error pointing at
 * `pluginOptions.<plugin>.<field>` in the file, not a stack trace.
 */
export function createConfiguredPlugins(config: BoxwatchConfig, source: ConfigSource, saved: EnforcePolicyService | null = null): Userspace[] {
  const enforce = createEnforcePlugin(config, saved);
  const plugins = config.plugins.map((name) => {
    const options = config.pluginOptions[name] ?? undefined;
    try {
      return createPlugin(name, options);
    } catch (err) {
      if (isBoxwatchError(err, 'ERR_CONFIG')) {
        const field = err.field && err.field !== '(options)' ? err.field.split('.').flatMap((p) => p.split(/\[(\d+)\]/).filter(Boolean)) : [];
        const path = ['pluginOptions', name, ...field.map((p) => (/^\d+$/.test(p) ? Number(p) : p))];
        const problem = err.message.replace(/^.*?: /, '');
        throw source.error(path, problem);
      }
      throw err;
    }
  });
  return enforce ? [...plugins, enforce] : plugins;
}

/**
 * The enforce plugin when enforcement is on (a policy file, enforce.enabled, or policies saved
 * through the API), else null: no policy, no program in the kernel. Every file is read and
 * checked before anything loads; a bad one stops the start with `file:line: field`. The saved API
 * policies are in the plugin from the start, so they act on the first containers it selects.
 */
export function createEnforcePlugin(config: BoxwatchConfig, saved: EnforcePolicyService | null = null): EnforcePlugin | null {
  const { policies: files, enabled } = config.enforce;
  if (!(enabled ?? (files.length > 0 || (saved?.saved ?? 0) > 0))) return null;
  const fromFiles = files.flatMap((f) => loadPolicyFile(resolve(f)));
  return new EnforcePlugin({ policies: saved ? saved.startPolicies(fromFiles) : fromFiles });
}

/** The running configuration's enforce plugin, or null when enforcement is off. */
export function enforcePlugin(plugins: readonly Userspace[]): EnforcePlugin | null {
  return (plugins.find((p) => p instanceof EnforcePlugin) as EnforcePlugin | undefined) ?? null;
}

/**
 * The syscall plugin when it is configured for in-kernel STIDE filtering
 * (`pluginOptions.syscall.sequence: kernel`), else null. `boxwatch run` hands it to the detector,
 * which then drives the kernel's per-image mode and known n-grams.
 */
export function kernelSequencePlugin(plugins: readonly Userspace[]): SyscallPlugin | null {
  for (const p of plugins) if (p instanceof SyscallPlugin && p.options.kernelSequence !== null) return p;
  return null;
}
