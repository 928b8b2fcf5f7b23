// daemonize() options: their types, and their checks (own properties only) into Settings.
import * as path from 'path';
import { inspect } from 'util';

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

type ErrorClass = new (message: string) => Error;

export function argError(kind: ErrorClass, code: string, message: string): Error {
  return Object.assign(new kind(message), { code });
}

export function describeValue(value: unknown): string {
  if (value === null) return 'Received null';
  if (typeof value === 'function') return 'Received function';
  if (typeof value === 'object') return 'Received an instance of Object';
  return `Received ${inspect(value)}`;
}

function integerOption(name: string, value: unknown, min: number, max: number, maxText: string): number {
  if (typeof value !== 'number') {
    throw argError(TypeError, 'ERR_INVALID_ARG_TYPE',
      `The "options.${name}" property must be of type number. ${describeValue(value)}`);
  }
  if (!Number.isInteger(value) || value < min || value > max) {
    throw argError(RangeError, 'ERR_OUT_OF_RANGE',
      `The value of "options.${name}" is out of range. ` +
        `It must be an integer >= ${min} and <= ${maxText}. Received ${value}`);
  }
  return value;
}

function stringOption(name: string, value: unknown): string {
  if (typeof value !== 'string') {
    throw argError(TypeError, 'ERR_INVALID_ARG_TYPE',
      `The "options.${name}" property must be of type string. ${describeValue(value)}`);
  }
  if (value === '' || value.includes('\0')) {
    throw argError(TypeError, 'ERR_INVALID_ARG_VALUE',
      `The "options.${name}" property must be a non-empty string without null bytes. ` +
        describeValue(value));
  }
  return value;
}

export function normalizeOptions(options: unknown): Settings {
  if (options === undefined) options = {};
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw argError(TypeError, 'ERR_INVALID_ARG_TYPE',
      `The "options" argument must be of type object. ${describeValue(options)}`);
  }
  // Own properties only: nothing on Object.prototype changes what a daemon does.
  const given: Record<string, unknown> = Object.create(null);
  for (const key of Object.keys(options)) given[key] = (options as Record<string, unknown>)[key];
  for (const key of Object.keys(given)) {
    if (!OPTION_NAMES.includes(key)) {
      throw argError(TypeError, 'ERR_INVALID_ARG_VALUE',
        `Unknown daemonize() option "${key}". Known options: ${OPTION_NAMES.join(', ')}`);
    }
  }
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
    settings.workingDirectory = path.resolve(stringOption('workingDirectory', given.workingDirectory));
  }
  if (given.umask !== undefined) {
    settings.umask = integerOption('umask', given.umask, 0, 0o777, '0o777');
  }
  if (given.pidFile !== undefined) {
    settings.pidFile = path.resolve(stringOption('pidFile', given.pidFile));
  }
  for (const name of ['stdout', 'stderr'] as const) {
    if (given[name] === undefined) continue;
    const target = stringOption(name, given[name]);
    settings[name] = target === 'ignore' ? null : path.resolve(target);
    settings[name === 'stdout' ? 'stdoutGiven' : 'stderrGiven'] = true;
  }
  if (given.keepFds !== undefined) {
    const list = given.keepFds;
    if (!Array.isArray(list)) {
      throw argError(TypeError, 'ERR_INVALID_ARG_TYPE',
        `The "options.keepFds" property must be an array of integers. ${describeValue(list)}`);
    }
    for (const fd of list) {
      if (typeof fd !== 'number') {
        throw argError(TypeError, 'ERR_INVALID_ARG_TYPE',
          `The "options.keepFds" entries must be of type number. ${describeValue(fd)}`);
      }
      if (!Number.isInteger(fd) || fd < 3 || fd > 0x7fffffff) {
        throw argError(RangeError, 'ERR_OUT_OF_RANGE',
          'The "options.keepFds" entries must be integers >= 3 ' +
            `(fds 0-2 are set by stdout/stderr). Received ${fd}`);
      }
      if (!settings.keepFds.includes(fd)) settings.keepFds.push(fd);
    }
  }
  if (given.env !== undefined) {
    const env = given.env;
    if (env === null || typeof env !== 'object' || Array.isArray(env)) {
      throw argError(TypeError, 'ERR_INVALID_ARG_TYPE',
        `The "options.env" property must be of type object. ${describeValue(env)}`);
    }
    for (const [name, value] of Object.entries(env as Record<string, unknown>)) {
      if (name === '' || name.includes('=') || name.includes('\0')) {
        throw argError(TypeError, 'ERR_INVALID_ARG_VALUE',
          `The "options.env" names must be non-empty, without "=" or null bytes. Received ${inspect(name)}`);
      }
      if (value === undefined || value === null) {
        settings.env.push([name, null]);
      } else if (typeof value === 'string' && !value.includes('\0')) {
        settings.env.push([name, value]);
      } else {
        throw argError(TypeError, 'ERR_INVALID_ARG_TYPE',
          `The "options.env.${name}" value must be a string without null bytes, null or ` +
            `undefined. ${describeValue(value)}`);
      }
    }
  }
  if (given.detach !== undefined) {
    const detach = given.detach;
    if (detach !== 'auto' && detach !== true && detach !== false) {
      throw argError(TypeError, 'ERR_INVALID_ARG_VALUE',
        `The "options.detach" property must be 'auto', true or false. ${describeValue(detach)}`);
    }
    settings.detach = detach;
  }
  if (given.waitForReady !== undefined) {
    if (typeof given.waitForReady !== 'boolean') {
      throw argError(TypeError, 'ERR_INVALID_ARG_TYPE',
        `The "options.waitForReady" property must be of type boolean. ${describeValue(given.waitForReady)}`);
    }
    settings.waitForReady = given.waitForReady;
  }
  if (given.startTimeoutMs !== undefined) {
    settings.startTimeoutMs = integerOption('startTimeoutMs', given.startTimeoutMs, 1, 0x7fffffff, '2147483647');
  }
  return settings;
}

/** daemon(7): a process started by init or systemd is already detached; do not fork. */
export function startedBySupervisor(): boolean {
  return process.ppid === 1 || !!process.env.INVOCATION_ID || !!process.env.NOTIFY_SOCKET;
}

