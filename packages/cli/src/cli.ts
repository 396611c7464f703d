#!/usr/bin/env node
import { isBoxwatchError } from '@boxwatch/core';
import { buildProgram } from './program.js';

buildProgram()
  .parseAsync(process.argv)
  .catch((err: unknown) => {
    const msg = isBoxwatchError(err) ? `${err.code}: ${err.message}` : err instanceof Error ? err.message : String(err);
    process.stderr.write(`boxwatch: ${msg}\n`);
    process.exit(1);
  });
