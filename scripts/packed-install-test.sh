#!/usr/bin/env bash
# The packages as users get them (issue 24): `npm pack` every workspace package, install the
# tarballs into an empty project in a temporary directory outside the repository, and use them
# there: a TypeScript consumer type-checked against the published .d.ts, `npx boxwatch doctor`,
# `npx boxwatch collect --plugin syscall --duration 3`, the custom-plugin example built with the
# installed `boxwatch-bpf-build`, and a Collector run in a container image that has no libbpf.
# Needs the repository built (npm run build) and the test image (scripts/test-image.sh).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d /tmp/boxwatch-packed.XXXXXX)"
image="boxwatch-test/packed-node:$$"
actor="boxwatch-packed-actor-$$"
cleanup() {
  docker rm -f "$actor" >/dev/null 2>&1 || true
  docker image rm -f "$image" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
step() { printf '\n== packed-install: %s (%d s)\n' "$*" "$SECONDS" >&2; }
fail() { echo "packed-install: FAILED: $*" >&2; exit 1; }

step "npm pack every workspace package"
mkdir -p "$work/tarballs" "$work/app"
(cd "$repo" && npm pack --workspaces --pack-destination "$work/tarballs" >"$work/pack.log" 2>&1) || { cat "$work/pack.log" >&2; fail "npm pack"; }
core_files="$(tar -tzf "$work"/tarballs/boxwatch-core-*.tgz)"
grep -q 'package/prebuilds/linux-x64/.*\.node$' <<<"$core_files" || fail "the @boxwatch/core tarball has no prebuilds/linux-x64 addon"

step "install the tarballs into an empty project ($work/app)"
cd "$work/app"
cat >package.json <<'EOF'
{ "name": "packed-consumer", "private": true, "type": "module" }
EOF
# No repository .npmrc, workspace or node_modules above this directory: only the tarballs and the
# registry's third-party dependencies (typescript and @types/node for the consumer).
npm install --no-audit --no-fund --prefer-offline "$work"/tarballs/*.tgz typescript@~5.9.3 @types/node@^20.19.0 >/dev/null
core_dir="$(node -p "require('path').dirname(require.resolve('@boxwatch/core/package.json'))")"
case "$core_dir" in "$work"/*) ;; *) fail "@boxwatch/core resolved to $core_dir, outside the test project" ;; esac
if ldd "$core_dir"/prebuilds/linux-x64/*.node | grep -Eq 'libbpf|libelf|libz'; then
  fail "the installed addon links a shared libbpf/libelf/zlib: $(ldd "$core_dir"/prebuilds/linux-x64/*.node)"
fi

step "type-check a consumer against the published .d.ts"
mkdir -p src
cat >src/consumer.ts <<'EOF'
import { Collector, type IEvent } from '@boxwatch/core';
import { FileOpenPlugin, type FileOpenEvent } from '@boxwatch/plugin-fileopen';
import { SyscallPlugin } from '@boxwatch/plugin-syscall';
import { CNetworkPlugin, type NetConnectEvent } from '@boxwatch/plugin-cnetwork';
import { ResourcesPlugin, type ResourceUsageEvent } from '@boxwatch/plugin-resources';
import { Detector, type AlertEvent, type Priority } from '@boxwatch/detector';

const isFileOpen = (e: IEvent): e is FileOpenEvent => e.type === 'file.open';
const isConnect = (e: IEvent): e is NetConnectEvent => e.type === 'net.connect';
const isUsage = (e: IEvent): e is ResourceUsageEvent => e.type === 'resource.usage';

const collector = new Collector({ plugins: [new SyscallPlugin(), new FileOpenPlugin(), new CNetworkPlugin(), new ResourcesPlugin()] });
const detector = new Detector({ models: false });
collector.on('event', (e) => {
  if (isFileOpen(e)) { const p: string = e.path; const w: boolean = e.flags.write; void p; void w; }
  if (isConnect(e)) { const port: number = e.dport; void port; }
  if (isUsage(e)) void e;
  detector.ingest(e);
});
detector.on('alert', (a: AlertEvent) => {
  const rule: string | undefined = a.rule;
  const priority: Priority = a.priority;
  const message: string = a.message;
  void rule; void priority; void message;
});
EOF
cat >tsconfig.json <<'EOF'
{ "compilerOptions": { "target": "ES2022", "module": "ESNext", "moduleResolution": "Bundler", "strict": true,
  "noEmit": true, "types": ["node"], "skipLibCheck": false }, "include": ["src"] }
EOF
npx tsc -p tsconfig.json || fail "the consumer does not type-check against the published .d.ts"

step "npx boxwatch doctor"
npx boxwatch doctor >doctor.txt || { cat doctor.txt >&2; fail "boxwatch doctor exited non-zero"; }
grep -q 'libbpf 1\.5 (embedded in the addon)' doctor.txt || { cat doctor.txt >&2; fail "doctor does not print the embedded libbpf 1.5"; }

step "npx boxwatch collect --plugin syscall --duration 3"
# The syscall plugin counts container processes only: a container that keeps making syscalls for
# the whole test, started before the collectors, so whenever they attach there is work to count.
docker run -d --rm --network none --name "$actor" boxwatch-test/busybox:latest \
  sh -c 'while true; do cat /etc/passwd >/dev/null; sleep 0.05; done' >/dev/null
npx boxwatch collect --plugin syscall --duration 3 >collect.ndjson 2>collect.err || { cat collect.err >&2; fail "collect exited non-zero"; }
ACTOR="$actor" node -e '
  const lines = require("fs").readFileSync("collect.ndjson", "utf8").split("\n").filter(Boolean);
  const counted = lines.map((l) => JSON.parse(l)).some((e) => e.type === "syscall.count" && e.container?.name === process.env.ACTOR);
  if (!counted) { console.error("no syscall.count of container " + process.env.ACTOR + " in " + lines.length + " events"); process.exit(1); }
' || fail "collect counted no syscalls of the test container"

step "build the custom-plugin example with the installed boxwatch-bpf-build"
mkdir -p custom
cp -r "$repo/examples/custom-plugin/bpf" "$repo/examples/custom-plugin/src" "$repo/examples/custom-plugin/tsconfig.json" custom/
rm -rf custom/src/generated custom/bpf/*.bpf.o
(cd custom && npx boxwatch-bpf-build bpf/hello.bpf.c bpf/hello.bpf.o \
  && mkdir -p src/generated && npx boxwatch-gen-layout bpf/hello.bpf.o src/generated/layout.ts hello_record \
  && npx tsc -p tsconfig.json) || fail "the custom-plugin example does not build from the installed packages"
(cd custom && timeout 20 node dist/main.js 2 >hello.ndjson 2>hello.err) || { cat custom/hello.err >&2; fail "the custom plugin did not run"; }
grep -q 'hello plugin running' custom/hello.err || fail "the custom plugin did not start: $(cat custom/hello.err)"

step "load the addon in a container image without libbpf"
# The busybox test image plus node and exactly the shared libraries node itself needs (ldd): no
# libbpf, libelf or zlib anywhere in the image, so the addon can only load if it embeds them.
ctx="$work/image"
mkdir -p "$ctx/rootfs/app"
node_bin="$(command -v node)"
for f in "$node_bin" $(ldd "$node_bin" | grep -o '/[^ ]*'); do
  mkdir -p "$ctx/rootfs$(dirname "$f")"
  cp -L "$f" "$ctx/rootfs$f"
done
cp -r node_modules package.json "$ctx/rootfs/app/"
cat >"$ctx/Dockerfile" <<'EOF'
FROM boxwatch-test/busybox:latest
COPY rootfs/ /
WORKDIR /app
EOF
DOCKER_BUILDKIT=0 docker build -q -t "$image" "$ctx" >/dev/null 2>&1 || docker build -q -t "$image" "$ctx" >/dev/null
docker run --rm --network none "$image" sh -c '! find / -xdev \( -name "libbpf*" -o -name "libelf*" -o -name "libz.so*" \) -print | grep -v "^/app/node_modules" | grep .' \
  || fail "the image is meant to have no libbpf/libelf/zlib but has one"
# As privileged as this VM allows (--privileged itself fails here: runc cannot apply every cap).
docker run --rm --cap-add SYS_ADMIN --security-opt seccomp=unconfined \
  --security-opt systempaths=unconfined --security-opt apparmor=unconfined --network none "$image" node node_modules/@boxwatch/cli/bin/boxwatch.js collect --plugin syscall --duration 2 \
  >"$work/container.ndjson" 2>"$work/container.err" || { cat "$work/container.err" >&2; fail "the Collector did not run in the image without libbpf"; }
# (Inside its own cgroup namespace and without the docker socket it cannot name the actor; that
# it loads, attaches and counts the actor's syscalls at all is what this step proves.)
grep -q '"type":"syscall.count"' "$work/container.ndjson" || { cat "$work/container.err" >&2; fail "no syscall counts from the Collector in the image without libbpf"; }

step "passed"
