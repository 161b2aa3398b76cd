import { defineConfig } from 'vitest/config';
import react from '@vitejs/plugin-react';

// The API server to proxy to in `npm run dev` (a running `tane server` or `tane ui`).
const target = process.env.TANE_API ?? 'http://127.0.0.1:5000';
const proxied = { target, changeOrigin: false };

export default defineConfig({
  plugins: [react()],
  base: '/',
  build: {
    outDir: '../src/tane/server/static',
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 400,
    assetsInlineLimit: 0,
  },
  server: {
    port: 5173,
    proxy: { '/api': proxied, '/login': proxied, '/logout': proxied },
  },
  test: {
    environment: 'jsdom',
    globals: true,
    setupFiles: ['./test/setup.ts'],
    include: ['test/**/*.test.{ts,tsx}', 'src/**/*.test.{ts,tsx}'],
  },
});
