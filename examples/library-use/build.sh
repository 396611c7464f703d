#!/usr/bin/env bash
# Compile the example (the @boxwatch packages must be built: `npm run build` at the repository root).
set -euo pipefail
cd "$(dirname "$0")"
../../node_modules/.bin/tsc -p tsconfig.json
