import { defineConfig } from 'tsup';
import { libraryBuild } from '../../tsup.base';

// The command is ESM only; its library surface (src/index.ts) gets type declarations.
export default defineConfig(libraryBuild({ entry: ['src/cli.ts', 'src/index.ts'], format: ['esm'], dts: { entry: 'src/index.ts', compilerOptions: { composite: false } } }));
