import { defineConfig } from 'vite';
import vue from '@vitejs/plugin-vue';

// Relative asset URLs and everything bundled: the console works with no network access (no CDN).
export default defineConfig({
  base: './',
  plugins: [vue()],
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: false },
});
