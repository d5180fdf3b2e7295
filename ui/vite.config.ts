import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));

// The studio builds into the package (dist/ui), where `lapis server` serves it at `/`.
export default defineConfig({
  root,
  plugins: [react()],
  build: {
    outDir: fileURLToPath(new URL('../dist/ui', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    reportCompressedSize: false,
    // bench:ui reads it to tell the initial files from the lazily loaded ones.
    manifest: true,
  },
  server: {
    // `npm run dev:ui` against a server on the default port: API calls go through to it.
    proxy: Object.fromEntries(['/api', '/ajax-api', '/endpoints', '/health'].map((p) => [p, 'http://127.0.0.1:5050'])),
  },
});
