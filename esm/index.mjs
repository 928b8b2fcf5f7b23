// ESM entry point. It re-exports the CommonJS build instead of being a second build, so
// `import` and `require` share one instance: one loaded addon and one registry of forked
// children. Node finds most CommonJS names with its static export detection; the ones the
// CommonJS build loads on first use (src/index.ts) are defined at run time, where that
// detection cannot see them, so they are named here (which loads them at import).
// test/packaging.test.ts checks that every name comes through.
import api from '../dist/src/index.js';

export * from '../dist/src/index.js';
export const {
  Pool,
  PreforkServer,
  Process,
  Reaper,
  activeChildren,
  currentProcess,
  daemonize,
  pmap,
  prefork,
  processInfo,
  reapChildren,
  reaperDiagnostics,
  setChildSubreaper,
  waitFor,
} = api;
export default api;
