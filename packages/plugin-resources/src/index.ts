export { ResourcesPlugin, RESOURCE_USAGE } from './plugin.js';
export type { ResourceUsageEvent, ResourcesStats } from './plugin.js';
export type { ResourcesOptions } from './options.js';
export type { ResourceUsageFields } from './usage.js';

import { ResourcesPlugin } from './plugin.js';
import type { ResourcesOptions } from './options.js';

/** Creates the resources plugin. Throws ERR_CONFIG naming the field when an option is invalid. */
export function resources(options: ResourcesOptions = {}): ResourcesPlugin {
  return new ResourcesPlugin(options);
}

export default resources;
