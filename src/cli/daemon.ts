// `posix-fork daemon|status|stop`: daemonize any command with the library's daemonize(),
// then ask about it and stop it through its pidfile, with LSB init-script exit statuses.
import * as fs from 'fs';
import * as path from 'path';
import { daemonize, processInfo } from '../index';
import { native } from '../native';
import { execProgram, resolveCommand } from './exec';
import { CliError } from './output';

export interface DaemonOptions {
  pidfile?: string;
  stdout?: string;
  stderr?: string;
  cwd?: string;
  umask?: string;
  waitReady?: boolean;
  detach?: boolean;
}

/** The CLI's default umask: files the command creates are not writable by others. */
const DEFAULT_UMASK = 0o022;

/** Parses an octal mask: 022, 0022, 0o022. */
export function parseUmask(text: string): number {
  const match = /^(?:0o)?([0-7]{1,4})$/i.exec(text.trim());
  const mask = match ? parseInt(match[1], 8) : NaN;
  if (!Number.isInteger(mask) || mask > 0o777) {
    throw new CliError(`invalid --umask '${text}': expected an octal mask from 000 to 777`, 2);
  }
  return mask;
}

/**
 * Runs in the launcher (daemonize() exits it once the daemon is set up) and again in the
 * daemon, where daemonize() returns and the command replaces the daemon: same pid, so the
 * pidfile names the command. The pidfile's lock goes with it (its descriptor is inherited),
 * so `status` can tell a live daemon from a stale file even after the pid is reused.
 */
export function startDaemon(command: string[], options: DaemonOptions): never {
  const [name, ...args] = command;
  // Resolved here, in the launcher's directory and PATH: "not found" is reported before
  // anything forks, and the daemon (in / by default) finds the very same file.
  const file = resolveCommand(name);
  const umask = options.umask === undefined ? DEFAULT_UMASK : parseUmask(options.umask);
  if (options.cwd !== undefined) {
    let isDirectory = false;
    try {
      isDirectory = fs.statSync(options.cwd).isDirectory();
    } catch {
      // reported below
    }
    if (!isDirectory) throw new CliError(`--cwd ${options.cwd}: not a directory`, 2);
  }
  const daemon = daemonize({
    pidFile: options.pidfile,
    stdout: options.stdout,
    stderr: options.stderr,
    workingDirectory: options.cwd ?? '/',
    umask,
    detach: options.detach ?? true,
    waitForReady: options.waitReady ?? false,
  });
  // In the daemon now. Its stderr is the --stderr log (or /dev/null).
  const inheritFds = daemon.pidFile !== null ? descriptorsOf(daemon.pidFile) : [];
  if (options.waitReady) daemon.ready();
  try {
    return execProgram(file, [name, ...args], { inheritFds });
  } catch (error) {
    // The pidfile goes with this process's exit; the log says why.
    process.stderr.write(`posix-fork daemon: cannot execute ${file}: ${(error as Error).message}\n`);
    process.exit(127);
  }
}

/** This process's descriptors open on `file` (found by device and inode). */
function descriptorsOf(file: string): number[] {
  let target: fs.Stats;
  try {
    target = fs.statSync(file);
  } catch {
    return [];
  }
  const dir = process.platform === 'linux' ? '/proc/self/fd' : '/dev/fd';
  const found: number[] = [];
  for (const entry of fs.readdirSync(dir)) {
    const fd = Number(entry);
    if (!Number.isInteger(fd) || fd <= 2) continue;
    try {
      const stat = fs.fstatSync(fd);
      if (stat.ino === target.ino && stat.dev === target.dev) found.push(fd);
    } catch {
      // the directory listing's own descriptor, closed by now
    }
  }
  return found;
}

export type DaemonState =
  | { kind: 'running'; pid: number | null; locked: boolean }
  | { kind: 'stale'; pid: number | null }
  | { kind: 'absent' };

/**
 * What a pidfile says: 'running' when a process holds its lock or its pid is alive (a zombie
 * is not), 'stale' when the file exists but nothing runs, 'absent' when there is no file.
 */
export function pidFileState(file: string): DaemonState {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | (fs.constants.O_NOFOLLOW ?? 0));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { kind: 'absent' };
    if (code === 'ELOOP') throw new CliError(`pidfile ${file} is a symbolic link; refusing it`, 4);
    throw new CliError(`cannot read pidfile ${file}: ${(error as Error).message}`, 4);
  }
  try {
    if (!fs.fstatSync(fd).isFile()) throw new CliError(`pidfile ${file} is not a regular file`, 4);
    const text = fs.readFileSync(fd, 'utf8');
    const match = /^\s*(\d{1,10})\s*$/.exec(text);
    const pid = match && Number(match[1]) > 1 && Number(match[1]) <= 0x7fffffff ? Number(match[1]) : null;
    const locked = isLocked(fd);
    if (locked) return { kind: 'running', pid, locked };
    if (pid !== null && isAlive(pid)) return { kind: 'running', pid, locked };
    return { kind: 'stale', pid };
  } finally {
    fs.closeSync(fd);
  }
}

// A daemon holds an exclusive flock on its pidfile for its whole life; a shared
// non-blocking lock fails exactly while it does.
function isLocked(fd: number): boolean {
  const { LOCK_SH, LOCK_NB, LOCK_UN } = native.flockConstants;
  if (!native.flock(fd, LOCK_SH | LOCK_NB)) return true;
  native.flock(fd, LOCK_UN);
  return false;
}

/** Alive and not a zombie (a zombie has ended; only its parent's wait is missing). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  let state: string | undefined;
  try {
    state = processInfo(pid)?.state;
  } catch {
    return true;
  }
  return state !== undefined && state !== 'Z' && state !== 'X';
}

/** `status`: prints one line, returns the LSB status (0 running, 1 stale pidfile, 3 not running). */
export function daemonStatus(file: string, print: (line: string) => void): number {
  const state = pidFileState(file);
  switch (state.kind) {
    case 'running':
      print(state.pid === null ? `running (starting; pid not written yet to ${file})` : `running (pid ${state.pid})`);
      return 0;
    case 'stale':
      print(`not running, but the pidfile ${file} exists${state.pid !== null ? ` (stale pid ${state.pid})` : ''}`);
      return 1;
    default:
      print(`not running (no pidfile ${file})`);
      return 3;
  }
}

const sleepCell = new Int32Array(new SharedArrayBuffer(4));
function sleepMs(ms: number): void {
  Atomics.wait(sleepCell, 0, 0, ms);
}

function waitGone(pid: number, timeoutMs: number): boolean {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!isAlive(pid)) return true;
    if (Date.now() >= deadline) return false;
    sleepMs(20);
  }
}

/**
 * `stop`: SIGTERM, SIGKILL after `timeoutSeconds`, waits until the process is gone, removes a
 * pidfile left behind (a command that was exec'd cannot remove it itself). Returns 0 when the
 * daemon is stopped or was not running; throws CliError otherwise.
 */
export function stopDaemon(file: string, timeoutSeconds: number, print: (line: string) => void): number {
  const state = pidFileState(file);
  if (state.kind === 'absent') {
    print(`not running (no pidfile ${file})`);
    return 0;
  }
  if (state.kind === 'stale') {
    removeIfSame(file, state.pid);
    print(`not running; removed the stale pidfile ${file}`);
    return 0;
  }
  const pid = state.pid;
  if (pid === null) throw new CliError(`the daemon of ${file} is starting (no pid yet); try again`, 1);
  if (pid === process.pid) throw new CliError(`pidfile ${file} names this process (${pid})`, 1);
  signal(pid, 'SIGTERM');
  print(`sent SIGTERM to ${pid}`);
  if (!waitGone(pid, timeoutSeconds * 1000)) {
    print(`pid ${pid} still running after ${timeoutSeconds} s: sent SIGKILL`);
    signal(pid, 'SIGKILL');
    if (!waitGone(pid, 10000)) throw new CliError(`pid ${pid} survived SIGKILL`, 1);
  }
  // The daemon's own exit handler may be removing it right now; give it a moment.
  const deadline = Date.now() + 500;
  while (fs.existsSync(file) && Date.now() < deadline) sleepMs(10);
  removeIfSame(file, pid);
  print(`stopped (pid ${pid})`);
  return 0;
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ESRCH') return;
    if (code === 'EPERM') throw new CliError(`not allowed to signal pid ${pid} (EPERM)`, 4);
    throw error;
  }
}

/** Removes `file` unless it changed meanwhile (a new daemon locked it or wrote another pid). */
function removeIfSame(file: string, pid: number | null): void {
  let now: DaemonState;
  try {
    now = pidFileState(file);
  } catch {
    return;
  }
  if (now.kind !== 'stale' || now.pid !== pid) return;
  try {
    fs.unlinkSync(path.resolve(file));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new CliError(`cannot remove ${file}: ${(error as Error).message}`, 1);
    }
  }
}
