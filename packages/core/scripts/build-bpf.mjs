#!/usr/bin/env node
// Compile a CO-RE BPF program: boxwatch-bpf-build <src.bpf.c> <out.bpf.o> [-I dir ...] [-D NAME=V ...]
// clang -g -O2 -target bpf, then strip DWARF while keeping BTF (llvm-strip -g keeps .BTF and
// .BTF.ext, which CO-RE relocation and the decoder generator need). Skips work when the output is
// newer than the source and every header next to it.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const coreInclude = resolve(here, '../bpf/include');

const [src, out, ...extra] = process.argv.slice(2);
if (!src || !out) {
  console.error('usage: boxwatch-bpf-build <src.bpf.c> <out.bpf.o> [clang flags...]');
  process.exit(2);
}

function newestInput() {
  let newest = statSync(src).mtimeMs;
  for (const dir of [dirname(src), join(coreInclude, 'boxwatch')]) {
    for (const f of readdirSync(dir)) if (f.endsWith('.h')) newest = Math.max(newest, statSync(join(dir, f)).mtimeMs);
  }
  return newest;
}

if (existsSync(out) && statSync(out).mtimeMs > newestInput() && !process.env.BOXWATCH_FORCE_BPF) process.exit(0);

function tool(names) {
  for (const n of names) {
    try {
      execFileSync('sh', ['-c', `command -v ${n}`], { stdio: 'ignore' });
      return n;
    } catch {}
  }
  console.error(`boxwatch-bpf-build: none of ${names.join(', ')} found (apt-get install clang llvm)`);
  process.exit(1);
}
const clang = process.env.CLANG ?? tool(['clang', 'clang-16', 'clang-15', 'clang-14']);
const strip = process.env.LLVM_STRIP ?? tool(['llvm-strip', 'llvm-strip-16', 'llvm-strip-15', 'llvm-strip-14']);

mkdirSync(dirname(out), { recursive: true });
const arch = process.env.BPF_TARGET_ARCH ?? 'x86';
execFileSync(
  clang,
  ['-g', '-O2', '-target', 'bpf', `-D__TARGET_ARCH_${arch}`, '-Wall', '-Wno-unused-function', '-I', coreInclude, '-I', dirname(src), ...extra, '-c', src, '-o', out],
  { stdio: 'inherit' },
);
execFileSync(strip, ['-g', out], { stdio: 'inherit' });
