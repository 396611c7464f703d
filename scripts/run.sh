#!/usr/bin/env bash
# The main job: boxwatch in its embedded all-in-one mode (collection + detection in one process,
# alerts on screen). Extra arguments go to `boxwatch run`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >&2
exec node packages/cli/dist/cli.js run "$@"
