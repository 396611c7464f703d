/**
 * Which containers a policy selects, from what the runtime told the registry (name, id, image,
 * labels: all known from the `create` event, before the container runs).
 */
import type { KnownContainer } from '@boxwatch/core';
import type { Policy } from './policy.js';

const HEX_ID = /^[0-9a-f]{12,64}$/;

export function selectorMatches(selector: string, c: KnownContainer): boolean {
  if (selector.startsWith('label:')) {
    const eq = selector.indexOf('=');
    return c.labels?.[selector.slice(6, eq)] === selector.slice(eq + 1);
  }
  if (selector.startsWith('image:')) {
    const ref = selector.slice(6);
    const image = c.image ?? '';
    // `busybox` selects busybox:latest and busybox:<any tag>; `busybox:1.36` only that tag.
    return image === ref || (!ref.includes(':') && image.startsWith(`${ref}:`));
  }
  const name = selector.replace(/^\//, '');
  if (c.name === name) return true;
  return HEX_ID.test(selector) && c.id.startsWith(selector);
}

export function policySelects(p: Policy, c: KnownContainer): boolean {
  if (p.containers === null) return false;
  if (p.containers === 'all') return true;
  return p.containers.some((s) => selectorMatches(s, c));
}

/**
 * The kernfs names a runtime gives the container's cgroup (DESIGN.md §3): the kernel compares the
 * new cgroup's name with these at cgroup_mkdir.
 */
export function cgroupNamesOf(containerId: string): string[] {
  return [containerId, `docker-${containerId}.scope`, `cri-containerd-${containerId}.scope`, `libpod-${containerId}.scope`];
}
