/**
 * Files the agent keeps in its state dir for what operators changed through the control API
 * (cnetwork rules, disabled detector rules, enforcement policies): written whole and atomically,
 * read back strictly. A file that cannot be read or parsed is an ERR_CONFIG naming the file and the
 * field, and is never overwritten: the operator's changes are not thrown away by a restart.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { z } from 'zod';
import { BoxwatchError } from '@boxwatch/core';

/** ERR_CONFIG for a problem with a state file, naming the file (and the field inside it). */
export function stateFileError(file: string, problem: string, field = '(file)', cause?: unknown): BoxwatchError {
  return new BoxwatchError('ERR_CONFIG', `${file}: ${field === '(file)' ? '' : `${field}: `}${problem} (fix or move the file away; it is left as it is)`, {
    file,
    field,
    cause,
  });
}

/**
 * The JSON state file `file` checked against `schema`; null when it does not exist. `what` names the
 * file in a read error ("the cnetwork rule file").
 */
export function readJsonStateFile<T>(file: string, schema: z.ZodType<T>, what: string): T | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw stateFileError(file, `cannot read ${what}: ${(err as Error).message}`, '(file)', err);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw stateFileError(file, `not valid JSON: ${(err as Error).message}`, '(file)', err);
  }
  const parsed = schema.safeParse(json);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const path = issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '');
  const field = issue.code === 'unrecognized_keys' ? [path, issue.keys[0]].filter(Boolean).join('.') : path || '(root)';
  throw stateFileError(file, issue.code === 'unrecognized_keys' ? 'unknown field' : issue.message, field);
}

/**
 * Write `text` to `file` atomically (temp file + fsync + rename + directory fsync), mode 0600.
 * The directory is created (0700) when missing. On failure the temp file is removed and the old
 * file is untouched.
 */
export function writeFileAtomic(file: string, text: string): void {
  const dir = dirname(file);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = join(dir, `.${basename(file)}.tmp-${process.pid}-${Date.now()}`);
  let fd: number | null = null;
  try {
    fd = openSync(tmp, 'wx', 0o600);
    writeSync(fd, text);
    fsyncSync(fd);
    closeSync(fd);
    fd = null;
    renameSync(tmp, file);
  } catch (err) {
    if (fd !== null) closeSync(fd);
    rmSync(tmp, { force: true });
    throw err;
  }
  // The rename is durable once the directory entry is on disk.
  const dfd = openSync(dir, 'r');
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
}
