import { defineConfig } from 'vitest/config';
import { fileURLToPath } from 'node:url';

// Benchmarks are not tests (they only measure): run with
//   npx vitest run --config packages/plugin-cnetwork/bench/vitest.config.ts
const src = (dir: string) => fileURLToPath(new URL(`../../${dir}/src/index.ts`, import.meta.url));
export default defineConfig({
  resolve: { alias: { '@boxwatch/core': src('core'), '@boxwatch/plugin-cnetwork': src('plugin-cnetwork') } },
  test: { include: ['packages/plugin-cnetwork/bench/*.bench-run.ts'], testTimeout: 600_000, hookTimeout: 120_000 },
});
