// Replacing this process with another program (execve(2), Python os.execve): the same pid,
// which is what `daemon` (pidfile), `reap` (the forked child) and `run` need.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { native } from '../native';
import { CliError } from './output';

/**
 * Finds `command` as a shell would: a name with a slash is a path (relative to `cwd`),
 * anything else is searched in PATH. Throws CliError 127 (not found) or 126 (not executable).
 */
export function resolveCommand(
  command: string,
  cwd = process.cwd(),
  pathEnv = process.env.PATH,
): string {
  if (command === '') throw new CliError('empty command name', 127);
  if (command.includes('/')) {
    const file = path.resolve(cwd, command);
    checkExecutable(file, command);
    return file;
  }
  let denied: string | null = null;
  for (const dir of (pathEnv ?? '/usr/local/bin:/usr/bin:/bin').split(':')) {
    const file = path.resolve(cwd, dir === '' ? '.' : dir, command);
    try {
      if (!fs.statSync(file).isFile()) continue;
    } catch {
      continue;
    }
    try {
      fs.accessSync(file, fs.constants.X_OK);
      return file;
    } catch {
      denied ??= file;
    }
  }
  if (denied !== null) throw new CliError(`${command}: permission denied (${denied})`, 126);
  throw new CliError(`${command}: command not found`, 127);
}

function checkExecutable(file: string, shown: string): void {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch {
    throw new CliError(`${shown}: no such file`, 127);
  }
  if (stat.isDirectory()) throw new CliError(`${shown}: is a directory`, 126);
  try {
    fs.accessSync(file, fs.constants.X_OK);
  } catch {
    throw new CliError(`${shown}: permission denied`, 126);
  }
}

export interface ExecOptions {
  /** Environment of the new program (default: this process's). */
  env?: NodeJS.ProcessEnv;
  /** Descriptors (> 2) the new program inherits, though this process opened them close-on-exec. */
  inheritFds?: readonly number[];
  /**
   * Give the signals Node ignores (SIGPIPE, SIGXFSZ: native.nodeIgnoredSignals) their default
   * action back, as other programs expect, and empty the signal mask. Signals ignored for other reasons (nohup)
   * stay ignored. Default true.
   */
  resetSignals?: boolean;
}

/**
 * execve(2): replaces this process with `file` run with `argv` (argv[0] included). Returns
 * only by throwing (ENOENT, EACCES, …). fds 0-2 are passed on as they are. A file the kernel
 * cannot execute (ENOEXEC: no `#!` line) is run as `/bin/sh file args…`, as execvp(3) does.
 */
export function execProgram(
  file: string,
  argv: readonly string[],
  options: ExecOptions = {},
): never {
  for (const fd of options.inheritFds ?? []) native.replaceFd(fd, fd, false);
  if (options.resetSignals ?? true) {
    // Only Node's own ignored signals go back to the default: every other one stays ignored.
    const keepIgnored = [...new Set(Object.values(os.constants.signals))].filter(
      (signal) => !native.nodeIgnoredSignals.includes(signal),
    );
    native.resetSignalState(keepIgnored);
  }
  const env = Object.entries(options.env ?? process.env)
    .filter((entry): entry is [string, string] => entry[1] !== undefined)
    .map(([name, value]) => `${name}=${value}`);
  try {
    return native.execve(file, [...argv], env);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOEXEC') throw error;
  }
  return native.execve('/bin/sh', ['/bin/sh', file, ...argv.slice(1)], env);
}

/**
 * The exit status for a command that was found but failed to execute, as env(1) and tini
 * give it: 127 when execve(2) says ENOENT (its interpreter is missing), otherwise 126.
 */
export function execFailureStatus(error: unknown): number {
  return (error as NodeJS.ErrnoException).code === 'ENOENT' ? 127 : 126;
}
