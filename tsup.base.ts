import type { Options } from 'tsup';

/**
 * The build every @boxwatch library package shares: ESM + CJS + .d.ts from src/index.ts, with
 * a non-composite tsconfig.build.json. import.meta.url (which locates the native addon, .bpf.o
 * files and default rules shipped in a package) is shimmed in the CJS output.
 */
export function libraryBuild(overrides: Options = {}): Options {
  return {
    entry: ['src/index.ts'],
    format: ['esm', 'cjs'],
    dts: { compilerOptions: { composite: false } },
    tsconfig: 'tsconfig.build.json',
    clean: true,
    sourcemap: true,
    target: 'node20',
    shims: true,
    ...overrides,
  };
}
