import { defineConfig } from 'vitest/config';
import { fileURLToPath } from 'node:url';

// Tests import packages by name; resolve them to their TypeScript sources so a test run does not
// depend on a stale dist/. The native addon and .bpf.o files still come from `npm run build`.
const pkg = (dir: string) => fileURLToPath(new URL(`./packages/${dir}/src/index.ts`, import.meta.url));
const alias = {
  '@boxwatch/core': pkg('core'),
  '@boxwatch/plugin-syscall': pkg('plugin-syscall'),
  '@boxwatch/plugin-fileopen': pkg('plugin-fileopen'),
  '@boxwatch/plugin-cnetwork': pkg('plugin-cnetwork'),
  '@boxwatch/plugin-resources': pkg('plugin-resources'),
  '@boxwatch/sink-kafka': pkg('sink-kafka'),
  '@boxwatch/detector': pkg('detector'),
};

export default defineConfig({
  resolve: { alias },
  test: {
    projects: [
      {
        resolve: { alias },
        test: { name: 'unit', include: ['packages/*/test/unit/**/*.test.ts', 'examples/**/*.test.ts'], testTimeout: 20_000 },
      },
      {
        resolve: { alias },
        test: {
          name: 'integration',
          include: ['packages/*/test/integration/**/*.test.ts'],
          // Integration tests share the kernel, dockerd and the broker: run files one at a time.
          fileParallelism: false,
          // The binding's leak test collects garbage explicitly between measurements.
          poolOptions: { forks: { execArgv: ['--expose-gc'] } },
          testTimeout: 180_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
