#!/usr/bin/env bash
# Build the example plugin: compile the BPF object (CO-RE, BTF kept), generate the record layout from
# its BTF, compile the TypeScript. Outside this repository, `npx boxwatch-bpf-build` and
# `npx boxwatch-gen-layout` (bins of @boxwatch/core) replace the two script paths below.
set -euo pipefail
cd "$(dirname "$0")"
CORE_SCRIPTS=../../packages/core/scripts
node "$CORE_SCRIPTS/build-bpf.mjs" bpf/hello.bpf.c bpf/hello.bpf.o
mkdir -p src/generated
node "$CORE_SCRIPTS/gen-layout.mjs" bpf/hello.bpf.o src/generated/layout.ts hello_record
../../node_modules/.bin/tsc -p tsconfig.json
echo "built: node examples/custom-plugin/dist/main.js [seconds]"
