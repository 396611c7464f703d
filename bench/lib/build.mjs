// Build everything the benchmarks run: the bench BPF objects, the C consumer/loader (cc -lbpf),
// the Go consumer (cilium/ebpf from the Go module proxy) and the boxwatch agent bundle (esbuild over
// the TypeScript sources in the tree, so figures are for the code as it is, not a stale dist/).
// Everything goes to bench/.build/. Each step reports { ok, error } instead of throwing, so a
// missing toolchain or an unfinished package turns into "not measured: <reason>".
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync, copyFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

export function paths(root) {
  const bench = path.join(root, 'bench');
  return { root, bench, out: path.join(bench, '.build') };
}

const newer = (out, ...inputs) => existsSync(out) && inputs.every((i) => statSync(out).mtimeMs >= statSync(i).mtimeMs);

function run(cmd, args, opts = {}) {
  return execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', ...opts });
}

function step(fn) {
  try {
    return { ok: true, ...(fn() ?? {}) };
  } catch (err) {
    const msg = String(err.stderr || err.message || err).trim().split('\n').slice(-6).join(' | ');
    return { ok: false, error: msg.slice(0, 600) };
  }
}

export function buildBpf(p, log) {
  const script = path.join(p.root, 'packages/core/scripts/build-bpf.mjs');
  const r = {};
  for (const [name, src] of [['delivery', 'delivery/delivery.bpf.c'], ['counting', 'counting/counting.bpf.c']]) {
    r[name] = step(() => run(process.execPath, [script, path.join(p.bench, src), path.join(p.out, `${name}.bpf.o`)]));
    log(`bpf ${name}: ${r[name].ok ? 'ok' : r[name].error}`);
  }
  return r;
}

export function buildC(p, log) {
  const r = {};
  const hdr = path.join(p.bench, 'lib/bench_rodata.h');
  const programs = [
    ['delivery-c', 'delivery/c/consumer.c', ['-lbpf']],
    ['counting-loader', 'counting/loader.c', ['-lbpf']],
    // Runs inside the busybox benchmark container, hence static.
    ['delivery-pace', 'delivery/pace.c', ['-static', '-pthread']],
    ['net-conns', 'net/conns.c', ['-static', '-pthread']],
  ];
  for (const [name, src, flags] of programs) {
    const out = path.join(p.out, name);
    r[name] = step(() => {
      if (!newer(out, path.join(p.bench, src), hdr)) run('cc', ['-O2', '-Wall', '-o', out, path.join(p.bench, src), ...flags]);
    });
    log(`cc ${name}: ${r[name].ok ? 'ok' : r[name].error}`);
  }
  return r;
}

export function buildGo(p, log) {
  const dir = path.join(p.bench, 'delivery/go');
  const out = path.join(p.out, 'delivery-go');
  const go = ['/usr/local/go/bin/go', 'go'].find((g) => g === 'go' || existsSync(g));
  const r = step(() => {
    if (newer(out, path.join(dir, 'main.go'), path.join(dir, 'go.mod'), path.join(dir, 'go.sum'))) return;
    log('go build (first time downloads github.com/cilium/ebpf from the Go module proxy)...');
    run(go, ['build', '-o', out, '.'], { cwd: dir, env: { ...process.env, GOFLAGS: '-buildvcs=false', PATH: `${process.env.PATH}:/usr/local/go/bin` }, timeout: 600_000 });
  });
  log(`go delivery-go: ${r.ok ? 'ok' : r.error}`);
  return r;
}

const OPTIONAL = {
  '@boxwatch/plugin-syscall': ['plugin-syscall', ['SyscallPlugin'], 'syscall.bpf.o'],
  '@boxwatch/plugin-fileopen': ['plugin-fileopen', ['FileOpenPlugin'], 'fileopen.bpf.o'],
  '@boxwatch/plugin-cnetwork': ['plugin-cnetwork', ['CNetworkPlugin'], 'cnetwork.bpf.o'],
  '@boxwatch/plugin-resources': ['plugin-resources', ['ResourcesPlugin'], null],
  '@boxwatch/plugin-enforce': ['plugin-enforce', ['EnforcePlugin', 'parsePoliciesOrThrow'], 'enforce.bpf.o'],
  '@boxwatch/sink-kafka': ['sink-kafka', ['KafkaSink'], null],
};

/**
 * Bundle bench/agent/agent.ts. @boxwatch/* resolve to their src/index.ts; `import.meta.url` in
 * package sources is replaced by the source file's own URL so the native addon and the .bpf.o
 * files are found where they are. A package that does not bundle (or has no .bpf.o and cannot build
 * one) is replaced by a stub whose classes throw "not ready: <reason>".
 */
export async function buildAgent(p, log) {
  const { build } = await import(pathToFileURL(path.join(p.root, 'node_modules/esbuild/lib/main.js')).href);
  const pkgSrc = (dir) => path.join(p.root, 'packages', dir, 'src/index.ts');
  const metaUrl = {
    name: 'source-import-meta-url',
    setup(b) {
      b.onLoad({ filter: /\/packages\/.*\.ts$/ }, (args) => ({
        contents: readFileSync(args.path, 'utf8').replaceAll('import.meta.url', JSON.stringify(pathToFileURL(args.path).href)),
        loader: 'ts',
      }));
    },
  };
  const common = { bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', logLevel: 'silent', plugins: [metaUrl], write: false };
  const alias = { '@boxwatch/core': pkgSrc('core') };
  const status = {};
  for (const [name, [dir, exportsList, bpfObj]] of Object.entries(OPTIONAL)) {
    let reason = null;
    try {
      await build({ ...common, entryPoints: [pkgSrc(dir)], alias });
      if (bpfObj) {
        const obj = path.join(p.root, 'packages', dir, 'bpf', bpfObj);
        if (!existsSync(obj)) {
          log(`${dir}: ${bpfObj} missing, running its build:bpf`);
          try {
            run('npm', ['run', 'build:bpf', '-w', `packages/${dir}`], { cwd: p.root });
          } catch {}
          if (!existsSync(obj)) reason = `${dir}/bpf/${bpfObj} not built`;
        }
      }
    } catch (err) {
      reason = `${dir} does not build: ${String(err.errors?.[0]?.text ?? err.message).slice(0, 200)}`;
    }
    if (reason) {
      const stub = path.join(p.out, `stub-${dir}.mjs`);
      writeFileSync(stub, exportsList.map((e) => `export class ${e} { constructor() { throw new Error(${JSON.stringify(`not ready: ${reason}`)}); } }\n`).join(''));
      alias[name] = stub;
    } else alias[name] = pkgSrc(dir);
    status[dir] = reason ?? 'ok';
    log(`agent: ${dir} ${reason ?? 'ok'}`);
  }
  const r = await (async () => {
    try {
      await build({ ...common, write: true, entryPoints: [path.join(p.bench, 'agent/agent.ts')], outfile: path.join(p.out, 'agent.mjs'), alias });
      return { ok: true };
    } catch (err) {
      return { ok: false, error: String(err.errors?.[0]?.text ?? err.message).slice(0, 400) };
    }
  })();
  log(`agent bundle: ${r.ok ? 'ok' : r.error}`);
  return { ...r, packages: status };
}

export async function buildAll(root, log) {
  const p = paths(root);
  mkdirSync(p.out, { recursive: true });
  return { bpf: buildBpf(p, log), c: buildC(p, log), go: buildGo(p, log), agent: await buildAgent(p, log) };
}
