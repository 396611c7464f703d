// The built console (vite build output in dist/), located next to this file so the CLI finds it
// both in the monorepo and in an installed package. Hand-written: the only runtime entry point.
import { fileURLToPath } from 'node:url';

/** Directory holding index.html and assets/ of the built console. */
export const consoleAssetsDir = fileURLToPath(new URL('./dist/', import.meta.url));
