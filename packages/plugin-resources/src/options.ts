import { configError } from '@boxwatch/core';

/** Options of the resources plugin. Everything is optional; defaults suit a production agent. */
export interface ResourcesOptions {
  /** How often each container is sampled, in ms. Default 5000. */
  intervalMs?: number;
  /**
   * Where procfs is mounted (default `/proc`). The cgroup mounts are discovered from
   * `<procRoot>/self/mountinfo`, container processes are read under `<procRoot>/<pid>`. Tests point
   * this at a fake tree; an agent in a container with the host's /proc bind-mounted elsewhere sets it.
   */
  procRoot?: string;
  /**
   * Returns the host pid of a container's init process (or null when it is not running).
   * Default: Docker's `State.Pid` through dockerode on the default socket.
   */
  initPid?: (containerId: string) => Promise<number | null>;
  /** How many containers are read at the same time within one interval. Default 16. */
  concurrency?: number;
}

export interface ResolvedOptions {
  intervalMs: number;
  procRoot: string;
  initPid: ((containerId: string) => Promise<number | null>) | null;
  concurrency: number;
}

export const DEFAULT_INTERVAL_MS = 5000;
/** Below this, cgroup counters (and docker's own stats) are too coarse for meaningful rates. */
export const MIN_INTERVAL_MS = 100;
/** One day: anything longer is certainly a unit mistake (seconds given as ms the other way round is caught by MIN). */
export const MAX_INTERVAL_MS = 86_400_000;

const KNOWN_KEYS = new Set(['intervalMs', 'procRoot', 'initPid', 'concurrency']);

/** Validates user options; throws ERR_CONFIG naming the offending field. */
export function resolveOptions(options: unknown): ResolvedOptions {
  if (options === undefined) options = {};
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw configError('options', 'must be an object');
  }
  const o = options as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!KNOWN_KEYS.has(key)) throw configError(key, `unknown option (known: ${[...KNOWN_KEYS].join(', ')})`);
  }

  const intervalMs = o.intervalMs ?? DEFAULT_INTERVAL_MS;
  if (typeof intervalMs !== 'number' || !Number.isInteger(intervalMs)) {
    throw configError('intervalMs', `must be an integer number of milliseconds, got ${describe(o.intervalMs)}`);
  }
  if (intervalMs < MIN_INTERVAL_MS || intervalMs > MAX_INTERVAL_MS) {
    throw configError('intervalMs', `must be between ${MIN_INTERVAL_MS} and ${MAX_INTERVAL_MS} ms, got ${intervalMs}`);
  }

  const procRoot = o.procRoot ?? '/proc';
  if (typeof procRoot !== 'string' || !procRoot.startsWith('/')) {
    throw configError('procRoot', `must be an absolute path, got ${describe(o.procRoot)}`);
  }

  const initPid = o.initPid ?? null;
  if (initPid !== null && typeof initPid !== 'function') {
    throw configError('initPid', `must be a function (containerId) => Promise<number | null>, got ${describe(o.initPid)}`);
  }

  const concurrency = o.concurrency ?? 16;
  if (typeof concurrency !== 'number' || !Number.isInteger(concurrency) || concurrency < 1 || concurrency > 1024) {
    throw configError('concurrency', `must be an integer between 1 and 1024, got ${describe(o.concurrency)}`);
  }

  return {
    intervalMs,
    procRoot: procRoot.replace(/\/+$/, '') || '/',
    initPid: initPid as ResolvedOptions['initPid'],
    concurrency,
  };
}

function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'function') return 'a function';
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}
