// The package's entry points: `require('posix-fork')` and `import ... from 'posix-fork'` give
// the same API (one instance), and every file the exports map names ships in the tarball.
// The full install-from-tarball check is `npm run test:pack` (scripts/test-pack.ts).
import * as fs from 'fs';
import * as path from 'path';
import { ROOT, runNode } from './helpers';

interface Conditions {
  types: string;
  default: string;
}
interface PackageJson {
  main: string;
  types: string;
  files: string[];
  exports: { '.': { import: Conditions; require: Conditions }; './package.json': string };
}

const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as PackageJson;

/** Names Node adds to the namespace of any CommonJS module, not part of the API. */
const INTEROP_NAMES = new Set(['default', '__esModule', 'module.exports']);

/** Whether an entry of "files" (a directory/, dir/*.ext or a file) takes `file`. */
function shipped(file: string): boolean {
  const relative = path.posix.normalize(file);
  return pkg.files.some((entry) => {
    if (entry.endsWith('/')) return relative.startsWith(entry);
    const star = entry.indexOf('/*');
    if (star >= 0) {
      const [dir, ending] = [entry.slice(0, star + 1), entry.slice(star + 2)];
      return (
        relative.startsWith(dir) &&
        !relative.slice(dir.length).includes('/') &&
        relative.endsWith(ending)
      );
    }
    return relative === entry;
  });
}

describe('entry points', () => {
  test('the exports map names files that exist and are listed in "files"', () => {
    const targets = [
      pkg.main,
      pkg.types,
      pkg.exports['.'].import.types,
      pkg.exports['.'].import.default,
      pkg.exports['.'].require.types,
      pkg.exports['.'].require.default,
    ];
    for (const target of targets) {
      expect(fs.existsSync(path.join(ROOT, target))).toBe(true);
      expect(shipped(target)).toBe(true);
    }
    expect(path.normalize(pkg.exports['.'].require.default)).toBe(path.normalize(pkg.main));
    expect(path.normalize(pkg.exports['.'].require.types)).toBe(path.normalize(pkg.types));
  });

  test('the examples each demo runs are built and shipped', () => {
    // The compiled command's list of demos: what `posix-fork demo` runs.
    const { DEMOS } = require(path.join(ROOT, 'dist', 'src', 'cli', 'demos', 'index.js')) as {
      DEMOS: Array<{ name: string; example: string }>;
    };
    expect(DEMOS.length).toBeGreaterThan(0);
    for (const example of ['ps', ...DEMOS.map((demo) => demo.example)]) {
      const file = `dist/examples/${example}.js`;
      expect(fs.existsSync(path.join(ROOT, file))).toBe(true);
      expect(shipped(file)).toBe(true);
    }
    expect(shipped('dist/examples/ps.d.ts')).toBe(false);
  });

  test('require("posix-fork") loads the CommonJS build', async () => {
    const script = `
      const api = require('posix-fork');
      console.log(JSON.stringify({ file: require.resolve('posix-fork'), fork: typeof api.fork,
        waitpid: typeof api.waitpid }));`;
    const result = await runNode(['-e', script], { forkSafe: false });
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual({
      file: path.join(ROOT, pkg.main),
      fork: 'function',
      waitpid: 'function',
    });
  });

  // A getter (what TypeScript makes of `export { x } from`) first called in a fork child, as in
  // `pf._exit(0)`, is compiled in every child. Process, Pool, the reapers, daemonize, processInfo
  // and prefork are loaded on first use, and become plain values then.
  test('the core exports are plain values; the rest loads on first use, then is one too', async () => {
    const script = `
      const api = require('posix-fork');
      const isGetter = (k) => 'get' in Object.getOwnPropertyDescriptor(api, k);
      const loaded = () => Object.keys(require.cache).map((p) => p.split('/dist/src/').pop())
        .filter((file) => /^(process\\/index|daemon\\/index|reaper|procinfo|pidfile\\/index|proc|pool\\/index|prefork\\/index)\\.js$/.test(file))
        .sort();
      const getters = Object.keys(api).filter(isGetter).sort();
      const loadedAtStart = loaded();
      const kinds = [...new Set(getters.map((k) => typeof api[k]))];
      console.log(JSON.stringify({
        count: Object.keys(api).length, getters, loadedAtStart, kinds,
        gettersAfterUse: Object.keys(api).filter(isGetter), loadedAfterUse: loaded(),
      }));`;
    const result = await runNode(['-e', script], { forkSafe: false });
    const seen = JSON.parse(result.stdout);
    expect(seen.count).toBeGreaterThanOrEqual(40);
    expect(seen.getters).toEqual([
      'Pool',
      'PreforkServer',
      'Process',
      'Reaper',
      'activeChildren',
      'currentProcess',
      'daemonize',
      'pmap',
      'prefork',
      'processInfo',
      'reapChildren',
      'reaperDiagnostics',
      'setChildSubreaper',
      'waitFor',
    ]);
    expect(seen.loadedAtStart).toEqual([]);
    expect(seen.kinds).toEqual(['function']);
    expect(seen.gettersAfterUse).toEqual([]);
    expect(seen.loadedAfterUse).toEqual([
      'daemon/index.js',
      'pidfile/index.js',
      'pool/index.js',
      'prefork/index.js',
      'proc.js',
      'process/index.js',
      'procinfo.js',
      'reaper.js',
    ]);
  });

  test('import from "posix-fork" gives every CommonJS export, from the same instance', async () => {
    const script = `
      import * as namespace from 'posix-fork';
      import api from 'posix-fork';
      import { fork, waitpid, WNOHANG } from 'posix-fork';
      import { createRequire } from 'module';
      const required = createRequire(process.cwd() + '/')('posix-fork');
      const interop = new Set(${JSON.stringify([...INTEROP_NAMES])});
      console.log(JSON.stringify({
        required: Object.keys(required).sort(),
        imported: Object.keys(namespace).filter((name) => !interop.has(name)).sort(),
        sameDefault: api === required,
        sameBindings: Object.keys(required).every((name) => namespace[name] === required[name]),
        named: [typeof fork, typeof waitpid, typeof WNOHANG],
      }));`;
    const result = await runNode(['--input-type=module', '-e', script], { forkSafe: false });
    expect(result.stderr).toBe('');
    const seen = JSON.parse(result.stdout) as {
      required: string[];
      imported: string[];
      sameDefault: boolean;
      sameBindings: boolean;
      named: string[];
    };
    expect(seen.required).toContain('fork');
    expect(seen.imported).toEqual(seen.required);
    expect(seen.sameDefault).toBe(true);
    expect(seen.sameBindings).toBe(true);
    expect(seen.named).toEqual(['function', 'function', 'number']);
  });
});
