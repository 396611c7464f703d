import { isBoxwatchError, type Userspace } from '@boxwatch/core';
import { SyscallPlugin } from '@boxwatch/plugin-syscall';
import { createPlugin } from '../plugins.js';
import type { BoxwatchConfig } from '../config/schema.js';
import type { ConfigSource } from '../config/load.js';

/**
 * Build the configured plugins. A plugin rejecting its options is a config error pointing at
 * `pluginOptions.<plugin>.<field>` in the file, not a stack trace.
 */
export function createConfiguredPlugins(config: BoxwatchConfig, source: ConfigSource): Userspace[] {
  return config.plugins.map((name) => {
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
