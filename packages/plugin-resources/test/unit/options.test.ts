import { describe, expect, it } from 'vitest';
import { isBoxwatchError } from '@boxwatch/core';
import { ResourcesPlugin, resources } from '@boxwatch/plugin-resources';

function configErrorOf(fn: () => unknown): { field?: string; message: string } {
  try {
    fn();
  } catch (err) {
    if (isBoxwatchError(err, 'ERR_CONFIG')) return err;
    throw err;
  }
  throw new Error('expected ERR_CONFIG, nothing was thrown');
}

describe('resources plugin options', () => {
  it.each([
    ['intervalMs', { intervalMs: 0 }],
    ['intervalMs', { intervalMs: 99 }],
    ['intervalMs', { intervalMs: 1500.5 }],
    ['intervalMs', { intervalMs: '5000' }],
    ['intervalMs', { intervalMs: 90_000_000 }],
    ['procRoot', { procRoot: 'proc' }],
    ['procRoot', { procRoot: 7 }],
    ['initPid', { initPid: 42 }],
    ['concurrency', { concurrency: 0 }],
    ['concurrency', { concurrency: 2.5 }],
    ['intervall', { intervall: 5000 }],
  ])('rejects a bad %s with ERR_CONFIG naming it', (field, options) => {
    const err = configErrorOf(() => new ResourcesPlugin(options as never));
    expect(err.field).toBe(field);
    expect(err.message).toContain(field);
  });

  it('rejects options that are not an object', () => {
    expect(configErrorOf(() => resources(5000 as never)).field).toBe('options');
  });

  it('accepts defaults and valid values, and declares itself a BPF-less source', () => {
    const plugin = resources({ intervalMs: 100, procRoot: '/proc/', concurrency: 4, initPid: async () => null });
    expect(plugin.name).toBe('resources');
    expect(plugin.variants).toEqual([]);
    expect(plugin.eventTypes).toEqual(['resource.usage']);
    expect(new ResourcesPlugin().stats()).toMatchObject({ events: 0, lost: 0, containers: 0, layout: 'none' });
  });
});
