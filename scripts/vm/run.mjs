#!/usr/bin/env node
/**
 * Boots one matrix kernel in QEMU (software emulation: this machine has no KVM), runs a shell
 * script in the guest and returns its exit code and output. The guest's root is the cached
 * Debian rootfs (scripts/vm/rootfs.sh) with a tmpfs overlay; the repository is shared read-only
 * at /repo, the host's /usr/bin (node) at /host-node, and a fresh output directory read-write at
 * /out. QEMU is always gone when this returns: the guest powers itself off, and a guest that
 * overruns its timeout is killed.
 *
 *   node scripts/vm/run.mjs [--kernel x86-6.1] [--timeout 300] -- 'shell script'
 *
 * As a module: runInGuest({ kernel, script, timeoutS }) → { code, stdout, stderr, console, seconds, version }.
 */
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const VM = path.join(ROOT, '.cache/vm');

/** Guest machine per kernel architecture: the QEMU binary and its machine options. */
const MACHINES = {
  amd64: { qemu: 'qemu-system-x86_64', args: ['-machine', 'q35', '-cpu', 'max'], console: 'ttyS0' },
  arm64: { qemu: 'qemu-system-aarch64', args: ['-machine', 'virt', '-cpu', 'max'], console: 'ttyAMA0' },
};

export const KERNELS = { 'x86-6.1': 'amd64', 'x86-6.12': 'amd64', 'arm64-6.1': 'arm64' };

/** Fetch/build what a kernel needs (cached; a no-op when up to date). */
export function prepare(kernel) {
  const arch = KERNELS[kernel];
  if (!arch) throw new Error(`vm: unknown kernel '${kernel}' (${Object.keys(KERNELS).join(', ')})`);
  execFileSync('bash', [path.join(ROOT, 'scripts/vm/rootfs.sh'), arch], { stdio: ['ignore', 2, 2] });
  execFileSync('bash', [path.join(ROOT, 'scripts/vm/kernel.sh'), kernel], { stdio: ['ignore', 2, 2] });
  return arch;
}

export async function runInGuest({ kernel = 'x86-6.1', script, timeoutS = 300, memMiB = 2048, cpus = 2 }) {
  const arch = prepare(kernel);
  const m = MACHINES[arch];
  const kdir = path.join(VM, 'kernels', kernel);
  mkdirSync(path.join(VM, 'out'), { recursive: true });
  const out = mkdtempSync(path.join(VM, 'out', `${kernel}-`));
  writeFileSync(path.join(out, 'cmd.sh'), `set -u\ncd /repo\n${script}\n`);
  const share = (dir, tag, readonly) => ['-virtfs', `local,path=${dir},mount_tag=${tag},security_model=none${readonly ? ',readonly=on' : ''}`];
  const args = [
    ...m.args,
    '-accel', 'tcg,thread=multi',
    '-smp', String(cpus),
    '-m', String(memMiB),
    '-display', 'none',
    '-monitor', 'none',
    '-serial', `file:${path.join(out, 'console.log')}`,
    '-nic', 'none',
    '-no-reboot',
    '-kernel', path.join(kdir, 'vmlinuz'),
    '-initrd', path.join(kdir, 'initrd.img'),
    '-append', `console=${m.console} panic=-1 quiet`,
    ...share(path.join(VM, `rootfs-${arch}`), 'rootfs', true),
    ...share(ROOT, 'repo', true),
    ...share('/usr/bin', 'hostbin', true),
    ...share(out, 'out', false),
  ];
  const started = Date.now();
  const qemu = spawn(m.qemu, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let qemuErr = '';
  qemu.stderr.on('data', (d) => (qemuErr += d));
  qemu.stdout.resume();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    qemu.kill('SIGKILL');
  }, timeoutS * 1000);
  const exit = await new Promise((resolve, reject) => {
    qemu.on('error', (err) => reject(new Error(`vm: cannot start ${m.qemu}: ${err.message} (scripts/setup.sh installs QEMU)`)));
    qemu.on('exit', (code, signal) => resolve({ code, signal }));
  });
  clearTimeout(timer);
  const read = (f) => (existsSync(path.join(out, f)) ? readFileSync(path.join(out, f), 'utf8') : '');
  const rc = read('rc').trim();
  const result = {
    kernel,
    version: readFileSync(path.join(kdir, 'version'), 'utf8').trim(),
    code: timedOut ? 124 : rc === '' ? 125 : Number(rc),
    stdout: read('stdout'),
    stderr: read('stderr'),
    console: read('console.log'),
    seconds: (Date.now() - started) / 1000,
    out,
  };
  if (result.code === 0) rmSync(out, { recursive: true, force: true }); // kept for a look when it failed
  if (timedOut) result.stderr += `\nvm: the guest overran ${timeoutS} s and was killed`;
  else if (rc === '') result.stderr += `\nvm: the guest ended without an exit code (qemu exit ${exit.code ?? exit.signal}${qemuErr ? `: ${qemuErr.trim()}` : ''}); console tail:\n${result.console.split('\n').slice(-20).join('\n')}`;
  return result;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const argv = process.argv.slice(2);
  const sep = argv.indexOf('--');
  const opts = sep < 0 ? argv : argv.slice(0, sep);
  const script = sep < 0 ? 'uname -a' : argv.slice(sep + 1).join(' ');
  const opt = (name, dflt) => {
    const i = opts.indexOf(name);
    return i < 0 ? dflt : opts[i + 1];
  };
  const r = await runInGuest({ kernel: opt('--kernel', 'x86-6.1'), script, timeoutS: Number(opt('--timeout', '300')) });
  process.stdout.write(r.stdout);
  process.stderr.write(r.stderr);
  process.stderr.write(`vm: ${r.kernel} (${r.version}) exit ${r.code} in ${r.seconds.toFixed(1)} s\n`);
  process.exit(r.code);
}
