import type { Userspace } from '@boxwatch/core';
import { SyscallPlugin } from '@boxwatch/plugin-syscall';
import { FileOpenPlugin } from '@boxwatch/plugin-fileopen';
import { CNetworkPlugin } from '@boxwatch/plugin-cnetwork';
import { ResourcesPlugin } from '@boxwatch/plugin-resources';

/** The collection plugins the boxwatch command ships with, by the name users type. */
export const PLUGIN_FACTORIES: Record<string, (options?: Record<string, unknown>) => Userspace> = {
  syscall: (o) => new SyscallPlugin(o),
  fileopen: (o) => new FileOpenPlugin(o),
  cnetwork: (o) => new CNetworkPlugin(o),
  resources: (o) => new ResourcesPlugin(o),
};

export const PLUGIN_NAMES = Object.keys(PLUGIN_FACTORIES);

export function createPlugin(name: string, options?: Record<string, unknown>): Userspace {
  const factory = PLUGIN_FACTORIES[name];
  if (!factory) throw new Error(`unknown plugin '${name}' (available: ${PLUGIN_NAMES.join(', ')})`);
  return factory(options);
}
