import { defineConfig } from 'vite';

// The build goes straight into the Go package that embeds it. Relative
// asset URLs keep the page working behind a proxy under a sub-path.
export default defineConfig({
  base: './',
  build: {
    outDir: '../internal/web/dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    sourcemap: false,
    chunkSizeWarningLimit: 1024,
    rollupOptions: {
      onwarn(warning, warn) {
        // litegraph evaluates arithmetic typed into number fields on purpose.
        if (warning.code === 'EVAL' && warning.id?.includes('litegraph')) return;
        warn(warning);
      },
    },
  },
});
