import { readFileSync } from 'node:fs';
import { configError } from '@boxwatch/core';
import { parsePoliciesOrThrow, type Policy } from './policy.js';

/** Read and parse one policy file; a bad file throws ERR_CONFIG naming file:line: field. */
export function loadPolicyFile(file: string): Policy[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw configError('policy file', `cannot read it: ${(err as Error).message}`, { file });
  }
  return parsePoliciesOrThrow(text, file);
}
