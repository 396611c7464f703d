/**
 * Kernel feature probes. Each probe really tries the feature (load a program, attach it, read the
 * file) and answers supported / unsupported / inconclusive with the reason, so a missing feature
 * can be named in errors and `boxwatch doctor`.
 */
export type FeatureName =
  | 'btf'
  | 'ringbuf'
  | 'tp_btf'
  | 'raw_tp'
  | 'tracepoint'
  | 'kprobe'
  | 'kprobe_multi'
  | 'fentry'
  | 'lsm'
  | 'tail_call'
  | 'bpf_loop'
  | 'cgroup_v1'
  | 'cgroup_v2';

export type FeatureStatus = 'supported' | 'unsupported' | 'inconclusive';

export interface FeatureResult {
  status: FeatureStatus;
  /** Why: the errno or observation behind the answer. */
  detail: string;
}

export type FeatureReport = Record<FeatureName, FeatureResult>;

export const ALL_FEATURES: readonly FeatureName[] = [
  'btf',
  'ringbuf',
  'tp_btf',
  'raw_tp',
  'tracepoint',
  'kprobe',
  'kprobe_multi',
  'fentry',
  'lsm',
  'tail_call',
  'bpf_loop',
  'cgroup_v1',
  'cgroup_v2',
];
