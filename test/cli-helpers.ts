// Running the `posix-fork` command as users do (`node dist/src/cli/index.js ...`, not in the
// fork-safe mode: the command must get there itself), and the processes it leaves outside its
// process group, for test/cli.test.ts and test/demos.test.ts.
import * as fs from 'fs';
import * as path from 'path';
import { ROOT, RunOptions, RunResult, procState, runNode } from './helpers';

export const CLI = path.join(ROOT, 'dist', 'src', 'cli', 'index.js');

/** Plain output: no colour forced or forbidden by the environment jest runs in. */
export const PLAIN_ENV = {
  FORCE_COLOR: undefined,
  NO_COLOR: undefined,
} as unknown as NodeJS.ProcessEnv;

export function cli(args: string[], options: RunOptions = {}): Promise<RunResult> {
  return runNode([CLI, ...args], {
    forkSafe: false,
    ...options,
    env: { ...PLAIN_ENV, ...options.env },
  });
}

export function cmdline(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
  } catch {
    return '';
  }
}

/** Still running: in the table and not a zombie (a zombie of init is dead, only not yet reaped). */
export function alive(pid: number): boolean {
  const state = procState(pid);
  return state !== null && state !== 'Z' && state !== 'X';
}

/**
 * Processes a test file started outside its process groups (daemons, orphans), with a piece of
 * their command line: killStrays() (in afterAll) kills each one still there and still that
 * program (a pid may have been reused meanwhile).
 */
export const strays = new Map<number, string>();

export function killStrays(): void {
  for (const [pid, program] of strays) {
    if (!alive(pid) || !cmdline(pid).includes(program)) continue;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  strays.clear();
}
