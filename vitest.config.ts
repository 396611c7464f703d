import { defineConfig } from 'vitest/config';
import { fileURLToPath } from 'node:url';

// Tests import packages by name; resolve them to their TypeScript sources so a test run does not
// depend on a stale dist/. The native addon and .bpf.o files still come from `npm run build`.
const src = (file: string) => fileURLToPath(new URL(`./packages/${file}`, import.meta.url));
// Exact matches (regexes): a plain '@boxwatch/core' key would also rewrite '@boxwatch/core/testing'.
const alias = [
  { find: /^@boxwatch\/core\/testing$/, replacement: src('core/src/testing/index.ts') },
  ...['core', 'plugin-syscall', 'plugin-fileopen', 'plugin-cnetwork', 'plugin-resources', 'plugin-enforce', 'sink-kafka', 'detector'].map((dir) => ({
    find: new RegExp(`^@boxwatch/${dir}$`),
    replacement: src(`${dir}/src/index.ts`),
  })),
];

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
