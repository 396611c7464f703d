#!/usr/bin/env node
// The `boxwatch` command. A committed file rather than dist/cli.js itself: npm links a bin at
// install time only if its file exists, and in the repository `npm ci` runs before the build,
// so `npx boxwatch` right after scripts/setup.sh needs a target that is already there.
import { existsSync } from 'node:fs';

const cli = new URL('../dist/cli.js', import.meta.url);
if (!existsSync(cli)) {
  console.error(`boxwatch: ${cli.pathname} is missing: build the CLI first (npm run build)`);
  process.exit(1);
}
await import(cli.href);
