import pino from 'pino';

/** The logging surface boxwatch code uses (a subset of pino's). */
export interface Logger {
  debug(obj: object | string, msg?: string): void;
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
  child(bindings: Record<string, unknown>): Logger;
}

/** Logs go to stderr so stdout stays clean for events and alerts. */
export function createLogger(options: { level?: string; name?: string } = {}): Logger {
  return pino(
    { name: options.name ?? 'boxwatch', level: options.level ?? process.env.BOXWATCH_LOG_LEVEL ?? 'info' },
    pino.destination(2),
  ) as unknown as Logger;
}

/** A logger that discards everything (tests, library users who bring their own). */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return silentLogger;
  },
};
