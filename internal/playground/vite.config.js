import { defineConfig } from 'vite';

// The bundle is served by the Go service under /playground/ and embedded with
// go:embed (internal/playground/playground.go). Vite empties dist/ on every
// build; package.json's build script puts back dist/.keep, the tracked file
// that lets go:embed compile before the bundle exists.
export default defineConfig({
  base: '/playground/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // Every asset a file of its own: the page's Content-Security-Policy
    // allows data: URIs only for fonts and images.
    assetsInlineLimit: 0,
    // Monaco is large; the size is known and reported in the README.
    chunkSizeWarningLimit: 4096,
    rolldownOptions: {
      onwarn(warning, warn) {
        // React libraries mark modules "use client" for server rendering,
        // which a client-only bundle has no use for.
        if (warning.code === 'MODULE_LEVEL_DIRECTIVE') return;
        warn(warning);
      },
    },
  },
});
