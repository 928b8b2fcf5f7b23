// daemonize() options: their types, and their checks (own properties only) into Settings.
import * as path from 'path';
import {
  MAX_INT32,
  checkBoolean,
  checkInteger,
  checkPath,
  checkString,
  invalidType,
  invalidValue,
  readOptions,
} from '../args';

/** Options of daemonize(). Paths are resolved against the launcher's working directory. */
export interface DaemonizeOptions {
  /** Directory the daemon runs in (daemon(7) step 11). Default '/'. */
  workingDirectory?: string;
  /** File-mode creation mask (step 10). Default 0, as in the recipe; 0o022 is the safe choice. */
  umask?: number;
  /** Pidfile: locked, holds the daemon's pid, removed when the daemon ends. Default none. */
  pidFile?: string;
  /** Where fd 1 goes: a file path (opened for appending, created 0644) or 'ignore' (/dev/null). */
  stdout?: string;
  /** Where fd 2 goes: a file path (appending) or 'ignore' (/dev/null). */
  stderr?: string;
  /** Inherited descriptors (>= 3) the daemon keeps; every other inherited one is closed. */
  keepFds?: readonly number[];
  /** Environment changes for the daemon: a string sets, null or undefined removes. */
  env?: Readonly<Record<string, string | null | undefined>>;
  /** true: always fork; false: never; 'auto' (default): not under init or systemd. */
  detach?: 'auto' | boolean;
  /** The launcher waits for daemon.ready() (exit 0) or a failure (throws). Default false. */
  waitForReady?: boolean;
  /**
   * Re-exec strategy: how long the launcher waits for the re-executed program to reach
   * daemonize() before it ends it and throws ERR_DAEMON_START_TIMEOUT. Default 30000 ms.
   */
  startTimeoutMs?: number;
}

/** What daemonize() returns inside the daemon. */
export interface Daemon {
  /** The daemon's pid (equal to process.pid). */
  readonly pid: number;
  /** Absolute path of the pidfile, or null. */
  readonly pidFile: string | null;
  /**
   * Startup is complete: the launcher (waitForReady) exits 0; with $NOTIFY_SOCKET set,
   * systemd gets READY=1. Calling it again does nothing.
   */
  ready(): void;
  /**
   * Startup failed: the launcher (waitForReady) prints `error` and exits non-zero; the daemon
   * writes it to its stderr and exits with status 1 (the pidfile is removed).
   */
  fail(error: unknown): never;
}

export interface Settings {
  workingDirectory: string;
  umask: number;
  pidFile: string | null;
  stdout: string | null; // null: 'ignore' (or, in place, leave as is when not given)
  stderr: string | null;
  stdoutGiven: boolean;
  stderrGiven: boolean;
  keepFds: number[];
  env: Array<[string, string | null]>;
  detach: 'auto' | boolean;
  waitForReady: boolean;
  startTimeoutMs: number;
}

const OPTION_NAMES = [
  'workingDirectory',
  'umask',
  'pidFile',
  'stdout',
  'stderr',
  'keepFds',
  'env',
  'detach',
  'waitForReady',
  'startTimeoutMs',
];

/** The settings daemonize() works from: `options` checked, defaults filled in, paths absolute. */
export function normalizeOptions(options: unknown): Settings {
  const given = readOptions(options, OPTION_NAMES, 'options', true);
  const settings: Settings = {
    workingDirectory: '/',
    umask: 0,
    pidFile: null,
    stdout: null,
    stderr: null,
    stdoutGiven: false,
    stderrGiven: false,
    keepFds: [],
    env: [],
    detach: 'auto',
    waitForReady: false,
    startTimeoutMs: 30000,
  };
  if (given.workingDirectory !== undefined) {
    settings.workingDirectory = path.resolve(
      checkPath('options.workingDirectory', given.workingDirectory),
    );
  }
  if (given.umask !== undefined)
    settings.umask = checkInteger('options.umask', given.umask, 0, 0o777, '0o777');
  if (given.pidFile !== undefined)
    settings.pidFile = path.resolve(checkPath('options.pidFile', given.pidFile));
  for (const name of ['stdout', 'stderr'] as const) {
    if (given[name] === undefined) continue;
    const target = checkPath(`options.${name}`, given[name]);
    settings[name] = target === 'ignore' ? null : path.resolve(target);
    settings[name === 'stdout' ? 'stdoutGiven' : 'stderrGiven'] = true;
  }
  if (given.keepFds !== undefined) settings.keepFds = keptFds(given.keepFds);
  if (given.env !== undefined) settings.env = envChanges(given.env);
  if (given.detach !== undefined) {
    const detach = given.detach;
    if (detach !== 'auto' && detach !== true && detach !== false) {
      invalidValue('options.detach', "must be 'auto', true or false", detach);
    }
    settings.detach = detach;
  }
  if (given.waitForReady !== undefined)
    settings.waitForReady = checkBoolean('options.waitForReady', given.waitForReady);
  if (given.startTimeoutMs !== undefined) {
    settings.startTimeoutMs = checkInteger(
      'options.startTimeoutMs',
      given.startTimeoutMs,
      1,
      MAX_INT32,
    );
  }
  return settings;
}

/** keepFds: descriptors >= 3 (0-2 are set by stdout and stderr), each once. */
function keptFds(list: unknown): number[] {
  if (!Array.isArray(list)) invalidType('options.keepFds', 'an instance of Array', list);
  const fds: number[] = [];
  list.forEach((fd: unknown, index) => {
    const checked = checkInteger(`options.keepFds[${index}]`, fd, 3, MAX_INT32);
    if (!fds.includes(checked)) fds.push(checked);
  });
  return fds;
}

/** env: a string sets the variable, null or undefined removes it. */
function envChanges(env: unknown): Array<[string, string | null]> {
  if (env === null || typeof env !== 'object' || Array.isArray(env)) {
    invalidType('options.env', 'of type object', env);
  }
  const changes: Array<[string, string | null]> = [];
  for (const [name, value] of Object.entries(env as Record<string, unknown>)) {
    if (name === '' || name.includes('=') || name.includes('\0')) {
      invalidValue(
        'options.env',
        'must have names that are non-empty, without "=" or null bytes',
        name,
      );
    }
    if (value === undefined || value === null) changes.push([name, null]);
    else changes.push([name, checkString(`options.env.${name}`, value)]);
  }
  return changes;
}

/** daemon(7): a process started by init or systemd is already detached; do not fork. */
export function startedBySupervisor(): boolean {
  return process.ppid === 1 || !!process.env.INVOCATION_ID || !!process.env.NOTIFY_SOCKET;
}
