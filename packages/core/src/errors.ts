/**
 * One error family for everything boxwatch throws. `code` is stable and documented; the extra
 * fields say where the problem is (feature, verifier log, config file/line/field).
 */
export type BoxwatchErrorCode =
  | 'ERR_NOT_SUPPORTED'
  | 'ERR_VERIFIER'
  | 'ERR_CONFIG'
  | 'ERR_BPF'
  | 'ERR_BAD_OBJECT'
  | 'ERR_CLOSED'
  | 'ERR_NOT_FOUND'
  | 'ERR_STATE';

export interface BoxwatchErrorDetails {
  /** ERR_NOT_SUPPORTED: the kernel feature that is missing. */
  feature?: string;
  /** ERR_VERIFIER: the kernel verifier's log for the rejected program. */
  verifierLog?: string;
  /** ERR_CONFIG: where the bad input is. */
  file?: string;
  line?: number;
  column?: number;
  field?: string;
  /** ERR_BPF: the errno from the failed kernel/libbpf call. */
  errno?: number;
  cause?: unknown;
}

// The detail fields are declared once, in BoxwatchErrorDetails; this merges them into the class.
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export interface BoxwatchError extends Omit<BoxwatchErrorDetails, 'cause'> {}

// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class BoxwatchError extends Error {
  readonly code: BoxwatchErrorCode;

  constructor(code: BoxwatchErrorCode, message: string, details: BoxwatchErrorDetails = {}) {
    super(message, details.cause !== undefined ? { cause: details.cause } : undefined);
    this.name = 'BoxwatchError';
    this.code = code;
    const { cause: _cause, ...rest } = details;
    Object.assign(this, rest);
  }
}

/** A config error that names the field (and, when known, file and line) in its message. */
export function configError(
  field: string,
  problem: string,
  where: { file?: string; line?: number; column?: number } = {},
): BoxwatchError {
  const location = where.file ? `${where.file}${where.line ? `:${where.line}` : ''}: ` : '';
  return new BoxwatchError('ERR_CONFIG', `${location}${field}: ${problem}`, { field, ...where });
}

export function isBoxwatchError(err: unknown, code?: BoxwatchErrorCode): err is BoxwatchError {
  return err instanceof BoxwatchError && (code === undefined || err.code === code);
}
