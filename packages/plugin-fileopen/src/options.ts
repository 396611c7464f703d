import { configError, resolveRingBufferTuning, type RingBufferTuning } from '@boxwatch/core';
import { DEFAULT_DENY_PREFIXES, parseDenyPrefixes, type DenyPrefix, type DenyRule } from './deny-prefixes.js';

export type FileOpenVariantName = 'kretprobe' | 'tp_btf' | 'raw_tp';
export const VARIANT_NAMES: readonly FileOpenVariantName[] = ['kretprobe', 'tp_btf', 'raw_tp'];

export interface FileOpenOptions {
  /** Path prefixes whose opens are dropped in the kernel (default DEFAULT_DENY_PREFIXES). Changeable at run time with setDenyPrefixes(). */
  denyPrefixes?: readonly DenyPrefix[];
  /** Report only opens that can modify a file (write access, O_CREAT, O_TRUNC). Changeable with setOnlyWrites(). */
  onlyWrites?: boolean;
  /** Report only these containers (full id, 12+ hex prefix or name); default every container. Changeable with watchContainers(). */
  containers?: readonly string[];
  /** Also report host processes (initial pid namespace). Load-time only. Default false. */
  includeHost?: boolean;
  /** Path components walked before `truncated` is set (32..255, default 64). */
  maxDepth?: number;
  /** Use this hook variant instead of the first one the kernel supports. */
  variant?: FileOpenVariantName;
  /** Ring buffer size in bytes (power of two, >= 64 KiB; default 4 MiB). */
  ringBytes?: number;
  /** Drain interval of the ring buffer in ms (default 10). */
  drainMs?: number;
  /**
   * tp_btf variant: how the fd is resolved and the path walked. `'auto'` (default) uses direct
   * BTF loads where the kernel allows them (Linux 6.2+, bpf_rdonly_cast) and falls back to probe
   * reads where the verifier rejects them; `'probe-read'` always uses probe reads (comparison,
   * tests). The other variants always use probe reads.
   */
  pathWalk?: 'auto' | 'probe-read';
  /** How this plugin's ring buffers are read (staging buffer size, real-time drain thread): core's RingBufferTuning. */
  ringBuffer?: RingBufferTuning;
}

export interface ResolvedOptions {
  denyRules: DenyRule[];
  onlyWrites: boolean;
  containers: readonly string[] | null;
  includeHost: boolean;
  maxDepth: number;
  variant: FileOpenVariantName | null;
  ringBytes: number;
  drainMs: number;
  pathWalk: 'auto' | 'probe-read';
  ringBuffer: RingBufferTuning;
}

const KNOWN = new Set(['denyPrefixes', 'onlyWrites', 'containers', 'includeHost', 'maxDepth', 'variant', 'ringBytes', 'drainMs', 'pathWalk', 'ringBuffer']);

export function resolveOptions(options: FileOpenOptions = {}): ResolvedOptions {
  if (options === null || typeof options !== 'object') throw configError('options', 'must be an object');
  for (const k of Object.keys(options)) if (!KNOWN.has(k)) throw configError(k, `unknown option (expected one of ${[...KNOWN].join(', ')})`);
  const bool = (field: keyof FileOpenOptions, v: unknown, dflt: boolean): boolean => {
    if (v === undefined) return dflt;
    if (typeof v !== 'boolean') throw configError(field, `must be a boolean, got ${JSON.stringify(v)}`);
    return v;
  };
  const int = (field: keyof FileOpenOptions, v: unknown, dflt: number, min: number, max: number): number => {
    if (v === undefined) return dflt;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw configError(field, `must be an integer in [${min}, ${max}], got ${JSON.stringify(v)}`);
    return v;
  };
  let containers: readonly string[] | null = null;
  if (options.containers !== undefined) {
    if (!Array.isArray(options.containers) || options.containers.some((c) => typeof c !== 'string' || c.length === 0)) {
      throw configError('containers', 'must be an array of container ids or names');
    }
    containers = [...options.containers];
  }
  if (options.variant !== undefined && !VARIANT_NAMES.includes(options.variant)) {
    throw configError('variant', `must be one of ${VARIANT_NAMES.join(', ')}, got ${JSON.stringify(options.variant)}`);
  }
  if (options.pathWalk !== undefined && options.pathWalk !== 'auto' && options.pathWalk !== 'probe-read') {
    throw configError('pathWalk', `must be 'auto' or 'probe-read', got ${JSON.stringify(options.pathWalk)}`);
  }
  const ringBytes = int('ringBytes', options.ringBytes, 4 << 20, 64 << 10, 1 << 30);
  if ((ringBytes & (ringBytes - 1)) !== 0) throw configError('ringBytes', `must be a power of two, got ${ringBytes}`);
  return {
    ringBuffer: resolveRingBufferTuning(options.ringBuffer),
    denyRules: parseDenyPrefixes(options.denyPrefixes ?? DEFAULT_DENY_PREFIXES),
    onlyWrites: bool('onlyWrites', options.onlyWrites, false),
    containers,
    includeHost: bool('includeHost', options.includeHost, false),
    maxDepth: int('maxDepth', options.maxDepth, 64, 32, 255),
    variant: options.variant ?? null,
    ringBytes,
    drainMs: int('drainMs', options.drainMs, 10, 1, 1000),
    pathWalk: options.pathWalk ?? 'auto',
  };
}
