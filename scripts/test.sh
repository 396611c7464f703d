#!/usr/bin/env bash
# The test command: prepare the machine, start the local Kafka broker, run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/kafka.sh start
npm test
