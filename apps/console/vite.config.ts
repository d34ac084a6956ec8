import { defineConfig } from 'vite';

/**
 * The console is served by the api at /console from these built files: no CDN, no inline script or style (the
 * api's Content-Security-Policy allows only 'self'), hashed asset names so they can be cached for good.
 */
export default defineConfig({
  base: '/console/',
  // Preact's automatic JSX runtime (tsconfig says the same for the type checker).
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  resolve: {
    alias: { react: 'preact/compat', 'react-dom': 'preact/compat' },
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // The polyfill would be an inline script in index.html; every browser the console supports has modulepreload.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    target: 'es2022',
  },
});
