// Runs fixture scripts as real Node processes, each in its own process group, and kills
// every group it started when the test file ends (test/setup.ts), so no test leaks children.
import { spawn, SpawnOptions } from 'child_process';
import * as path from 'path';
import { FORK_SAFE_FLAGS } from '../src/forksafe';

/** How the README tells users to start node for fork(): `--single-threaded` (and more on Node 18). */
export const FORK_SAFE_ARGS = FORK_SAFE_FLAGS.join(' ');
export { FORK_SAFE_FLAGS };

export const ROOT = path.resolve(__dirname, '..');
/** The compiled package, as fixtures require it. */
export const DIST = path.join(ROOT, 'dist', 'src');
export const FIXTURES = path.join(__dirname, 'fixtures');

/**
 * Multiplies every wait of these helpers (run timeouts, until()). 1 on a native run; the arm64
 * run under emulation (scripts/test-arm64.ts) sets POSIX_FORK_TEST_TIME_SCALE, because there
 * every process start and every instruction is many times slower, while the outcome is the same.
 */
export const TIME_SCALE = Math.max(1, Number(process.env.POSIX_FORK_TEST_TIME_SCALE) || 1);

export interface RunResult {
  pid: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Kill the whole group and reject after this long (default 20 s), times TIME_SCALE. */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Start node with --single-threaded, as the README tells users (default true). */
  forkSafe?: boolean;
  stdio?: SpawnOptions['stdio'];
}

const groups = new Set<number>();

/** `node [--single-threaded] ...args` in a new process group; resolves when it ends. */
export function runNode(args: string[], options: RunOptions = {}): Promise<RunResult> {
  const { forkSafe = true } = options;
  const timeoutMs = (options.timeoutMs ?? 20000) * TIME_SCALE;
  const nodeArgs = [...(forkSafe ? FORK_SAFE_FLAGS : []), ...args];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, nodeArgs, {
      cwd: options.cwd ?? ROOT,
      env: { ...process.env, ...options.env },
      detached: true,
      stdio: options.stdio ?? ['ignore', 'pipe', 'pipe'],
    });
    const pid = child.pid as number;
    groups.add(pid);
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      killGroup(pid);
      reject(
        new Error(
          `timed out after ${timeoutMs} ms: node ${nodeArgs.join(' ')}\n` +
            `stdout: ${stdout}\nstderr: ${stderr}`,
        ),
      );
    }, timeoutMs);
    let exited: { code: number | null; signal: NodeJS.Signals | null } | null = null;
    const finish = () => {
      clearTimeout(timer);
      resolve({
        pid,
        ...(exited as { code: number | null; signal: NodeJS.Signals | null }),
        stdout,
        stderr,
      });
    };
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('exit', (code, signal) => {
      exited = { code, signal };
      // A descendant may keep stdout open; do not wait for it longer than a moment.
      setTimeout(() => {
        child.stdout?.destroy();
        child.stderr?.destroy();
        finish();
      }, 2000 * TIME_SCALE).unref();
    });
    child.on('close', () => {
      if (exited) finish();
    });
  });
}

/** Runs test/fixtures/<name> with `args`. */
export function runFixture(name: string, args: string[] = [], options: RunOptions = {}) {
  return runNode([path.join(FIXTURES, name), ...args], options);
}

/** Kills process group `pgid`, ignoring a group that is already gone. */
export function killGroup(pgid: number): void {
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    // ESRCH: nothing left in that group.
  }
}

/** Kills every process group this test file started. */
export function killAllGroups(): void {
  for (const pgid of groups) killGroup(pgid);
  groups.clear();
}

/** The one-letter state of `pid` from /proc (R, S, Z, …), or null when it is gone. */
export function procState(pid: number): string | null {
  try {
    const stat = require('fs').readFileSync(`/proc/${pid}/stat`, 'utf8') as string;
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return null;
  }
}

/** Resolves once `predicate()` is true, polling every 10 ms; rejects after `timeoutMs` × TIME_SCALE. */
export async function until(predicate: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs * TIME_SCALE;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A bad-input fixture's outcomes that are not a TypeError/RangeError with an argument code. */
export function notArgumentErrors<T extends { threw: boolean; kind: string; code: string }>(
  results: T[],
): T[] {
  const allowed = [
    'ERR_INVALID_ARG_TYPE',
    'ERR_OUT_OF_RANGE',
    'ERR_TOO_MANY_ARGS',
    'ERR_INVALID_ARG_VALUE',
    'ERR_INVALID_THIS',
  ];
  return results.filter(
    (e) => !e.threw || !['TypeError', 'RangeError'].includes(e.kind) || !allowed.includes(e.code),
  );
}
