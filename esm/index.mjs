// ESM entry point. It re-exports the CommonJS build instead of being a second build, so
// `import` and `require` share one instance: one loaded addon and one registry of forked
// children. Node finds the CommonJS names with its static export detection;
// test/packaging.test.ts checks that every name comes through.
import api from '../dist/src/index.js';

export * from '../dist/src/index.js';
export default api;
