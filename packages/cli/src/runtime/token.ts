/**
 * The control API's bearer token. Order: `api.token` in the config, the BOXWATCH_API_TOKEN
 * environment variable, the token file (default <stateDir>/api-token). When none exists, a random
 * token is generated into the token file with mode 0600 so only root can read it.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { BoxwatchConfig } from '../config/schema.js';
import type { ConfigSource } from '../config/load.js';

/** Shorter tokens can be guessed; the generated one is 64 hex characters. */
export const MIN_TOKEN_LENGTH = 16;

export interface ResolvedToken {
  token: string;
  /** Where it came from: 'config', 'env', the file path, or `generated:<file>`. */
  origin: string;
}

export function tokenFilePath(config: BoxwatchConfig): string {
  return config.api.tokenFile ?? join(config.stateDir, 'api-token');
}

function check(token: string, where: () => Error): string {
  const t = token.trim();
  if (t.length < MIN_TOKEN_LENGTH || /\s/.test(t)) throw where();
  return t;
}

export function resolveToken(config: BoxwatchConfig, source: ConfigSource): ResolvedToken {
  const problem = `must be at least ${MIN_TOKEN_LENGTH} characters without spaces (an empty or short token is refused)`;
  if (config.api.token !== undefined) return { token: check(config.api.token, () => source.error(['api', 'token'], problem)), origin: 'config' };
  const env = process.env.BOXWATCH_API_TOKEN;
  if (env !== undefined) return { token: check(env, () => source.error(['api', 'token'], `BOXWATCH_API_TOKEN ${problem}`)), origin: 'env' };
  const file = tokenFilePath(config);
  let text: string | undefined;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw source.error(['api', 'tokenFile'], `cannot read ${file}: ${(err as Error).message}`);
  }
  if (text !== undefined) {
    const mode = statSync(file).mode & 0o077;
    if (mode !== 0) throw source.error(['api', 'tokenFile'], `${file} is readable by group or others (mode ${(statSync(file).mode & 0o777).toString(8)}); chmod 600 it`);
    return { token: check(text, () => source.error(['api', 'tokenFile'], `the token in ${file} ${problem}`)), origin: file };
  }
  const token = randomBytes(32).toString('hex');
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, `${token}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(file, 0o600); // the umask may have widened nothing, but be explicit
  return { token, origin: `generated:${file}` };
}
