#!/usr/bin/env node
// npm install hook of @boxwatch/core: use the prebuilt addon for this platform when the package
// ships one (prebuilds/<platform>-<arch>/), else say exactly what is missing and build from source
// (node-gyp, which builds the static libbpf first: see scripts/build-libbpf.sh for what it needs).
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const nodeGypBuild = createRequire(import.meta.url)('node-gyp-build');
try {
  nodeGypBuild.resolve(root);
  process.exit(0);
} catch {
  // no usable binary: fall through to the source build
}
const target = `${process.platform}-${process.arch}`;
console.error(
  `@boxwatch/core: no prebuilt addon for ${target} (N-API) in ${resolve(root, 'prebuilds', target)}; ` +
    'building it from source with node-gyp. This needs a C/C++ compiler, make, python3, cargo (fetches the ' +
    'pinned libbpf-sys crate from crates.io) and autoconf, automake, autopoint, libtool, flex, bison, gettext, gawk, pkg-config.',
);
const r = spawnSync('node-gyp', ['rebuild'], { cwd: root, stdio: 'inherit', shell: true });
if (r.status !== 0) {
  console.error(`@boxwatch/core: the source build of the addon for ${target} failed (node-gyp exit ${r.status ?? r.signal}); see the output above`);
  process.exit(1);
}
