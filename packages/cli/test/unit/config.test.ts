import { describe, expect, it } from 'vitest';
import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isBoxwatchError } from '@boxwatch/core';
import { loadConfig, type FlagValue } from '../../src/config/load.js';
import { createConfiguredPlugins, kernelSequencePlugin } from '../../src/runtime/plugins.js';
import { resolveToken } from '../../src/runtime/token.js';

const dir = () => mkdtempSync(join(tmpdir(), 'bwtest-cli-unit-'));
function file(text: string): string {
  const f = join(dir(), 'boxwatch.yaml');
  writeFileSync(f, text);
  return f;
}
function configErrorOf(fn: () => unknown) {
  try {
    fn();
  } catch (err) {
    if (isBoxwatchError(err, 'ERR_CONFIG')) return err;
    throw err;
  }
  throw new Error('expected ERR_CONFIG');
}

describe('config file', () => {
  it('applies defaults', () => {
    const { config } = loadConfig(undefined);
    expect(config.plugins).toEqual(['syscall', 'fileopen', 'cnetwork', 'resources']);
    expect(config.api).toMatchObject({ enabled: true, host: '127.0.0.1', port: 7070 });
    expect(config.detector.rules).toEqual(['default']);
    expect(config.stateDir).toBe('/var/lib/boxwatch');
  });

  it('names file, line and field for a wrong type', () => {
    const f = file('logLevel: info\napi:\n  host: 127.0.0.1\n  port: "eighty"\n');
    const e = configErrorOf(() => loadConfig(f));
    expect(e.file).toBe(f);
    expect(e.line).toBe(4);
    expect(e.field).toBe('api.port');
    expect(e.message).toContain(`${f}:4: api.port:`);
  });

  it('names the line of an unknown key (typos do not fall back to defaults)', () => {
    const f = file('stateDir: /tmp/x\ndetector:\n  learnMinutes: 5\n  leranMinutes: 6\n');
    const e = configErrorOf(() => loadConfig(f));
    expect(e.line).toBe(4);
    expect(e.field).toBe('detector.leranMinutes');
  });

  it('names list entries by index', () => {
    const f = file('plugins:\n  - syscall\n  - nope\n');
    const e = configErrorOf(() => loadConfig(f));
    expect(e.field).toBe('plugins.1');
    expect(e.line).toBe(3);
  });

  it('reports YAML syntax errors with the line', () => {
    const f = file('api:\n  port: 1\n bad: [\n');
    const e = configErrorOf(() => loadConfig(f));
    expect(e.file).toBe(f);
    expect(e.line).toBeGreaterThanOrEqual(2);
  });

  it('lets flags override the file, and blames the flag for a bad flag value', () => {
    const f = file('api:\n  port: 7070\nlogLevel: warn\n');
    const flags: FlagValue[] = [{ flag: '--api-port', path: ['api', 'port'], value: 0 }];
    const { config } = loadConfig(f, flags);
    expect(config.api.port).toBe(0);
    expect(config.logLevel).toBe('warn');
    const e = configErrorOf(() => loadConfig(f, [{ flag: '--api-port', path: ['api', 'port'], value: 70000 }]));
    expect(e.message).toContain('(from --api-port)');
  });

  it('locates a plugin option the plugin rejects', () => {
    const f = file('plugins: [cnetwork]\npluginOptions:\n  cnetwork:\n    flowIntervalMs: 5\n');
    const loaded = loadConfig(f);
    const e = configErrorOf(() => createConfiguredPlugins(loaded.config, loaded.source));
    expect(e.field).toBe('pluginOptions.cnetwork.flowIntervalMs');
    expect(e.line).toBe(4);
  });

  it('passes kernel sequence filtering through to the syscall plugin, which boxwatch run hands to the detector', () => {
    const f = file('plugins: [syscall]\npluginOptions:\n  syscall:\n    watch: [web-1]\n    sequence: kernel\n    kernelSequence:\n      drainIntervalMs: 500\n');
    const loaded = loadConfig(f);
    const plugins = createConfiguredPlugins(loaded.config, loaded.source);
    const p = kernelSequencePlugin(plugins);
    expect(p?.options.kernelSequence).toMatchObject({ n: 5, initialMode: 'learn', drainIntervalMs: 500 });
    // Not configured (the default): nothing for the detector to drive.
    const plain = loadConfig(undefined);
    expect(kernelSequencePlugin(createConfiguredPlugins(plain.config, plain.source))).toBeNull();
  });

  it('locates a kernel sequence option the plugin rejects', () => {
    const f = file('plugins: [syscall]\npluginOptions:\n  syscall:\n    watch: [web-1]\n    sequence: kernel\n    kernelSequence:\n      initialMode: detecting\n');
    const loaded = loadConfig(f);
    const e = configErrorOf(() => createConfiguredPlugins(loaded.config, loaded.source));
    expect(e.field).toBe('pluginOptions.syscall.kernelSequence.initialMode');
    expect(e.line).toBe(7);
    const noWatch = loadConfig(file('plugins: [syscall]\npluginOptions:\n  syscall:\n    sequence: kernel\n'));
    expect(configErrorOf(() => createConfiguredPlugins(noWatch.config, noWatch.source)).field).toBe('pluginOptions.syscall.sequence');
  });
});

describe('API token', () => {
  it('generates a token into a 0600 file on first start and reuses it', () => {
    const d = dir();
    const loaded = loadConfig(file(`stateDir: ${d}\n`));
    const first = resolveToken(loaded.config, loaded.source);
    expect(first.token).toMatch(/^[0-9a-f]{64}$/);
    expect(first.origin).toBe(`generated:${join(d, 'api-token')}`);
    expect(statSync(join(d, 'api-token')).mode & 0o777).toBe(0o600);
    expect(resolveToken(loaded.config, loaded.source).token).toBe(first.token);
  });

  it('refuses empty and short tokens with file and line', () => {
    for (const t of ['""', 'short']) {
      const f = file(`stateDir: ${dir()}\napi:\n  token: ${t}\n`);
      const loaded = loadConfig(f);
      const e = configErrorOf(() => resolveToken(loaded.config, loaded.source));
      expect(e.field).toBe('api.token');
      expect(e.line).toBe(3);
    }
  });

  it('refuses a token file others can read', () => {
    const d = dir();
    const tf = join(d, 'tok');
    writeFileSync(tf, 'a'.repeat(40), { mode: 0o644 });
    const loaded = loadConfig(file(`api:\n  tokenFile: ${tf}\n`));
    const e = configErrorOf(() => resolveToken(loaded.config, loaded.source));
    expect(e.message).toContain('chmod 600');
  });
});

describe('examples/boxwatch.yaml', () => {
  it('is a valid config whose plugin options the plugins accept', () => {
    const f = new URL('../../../../examples/boxwatch.yaml', import.meta.url).pathname;
    const loaded = loadConfig(f);
    expect(loaded.config.api.port).toBe(7070);
    expect(loaded.config.kafka.sink).toEqual({ lingerMs: 5 });
    const plugins = createConfiguredPlugins(loaded.config, loaded.source);
    expect(plugins.map((p) => p.name)).toEqual(['syscall', 'fileopen', 'cnetwork', 'resources']);
  });
});
