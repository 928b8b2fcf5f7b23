// daemonize(): the seeds' double-fork recipe, done the way daemon(7) asks, returning only in
// the daemon, which goes on running the same JavaScript program.
//
// Three ways to get there, chosen by daemonize() itself:
// - 'fork'   (node started with --single-threaded): fork, setsid, fork in this process; the
//            daemon keeps the heap, timers and handles of the launcher.
// - 'reexec' (any other node): an in-process fork is not safe (V8 threads, see
//            notes/fork-in-node.md), so native code double-forks and the grandchild execs the
//            same script under `node --single-threaded`; when the script calls daemonize()
//            again it finds the hand-over in the environment and finishes the setup there.
// - 'none'   (detach: false, or 'auto' under init/systemd): no fork, the process becomes the
//            daemon in place (new-style daemon, daemon(7)).
// The launcher takes the pidfile lock and opens the log files before anything forks, so
// "already running" and bad paths are thrown where the caller can see them; then it waits on
// a pipe until the daemon has written its pid (and, with waitForReady, until ready() or a
// failure), and ends.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { inspect } from 'util';
import { onFork } from './child';
import { DaemonStartError } from './daemon-error';
import {
  HANDOVER_ENV,
  Handover,
  handover,
  identityOf,
  listFds,
  startupFds,
} from './daemon-startup';
import { fork } from './fork';
import { FORK_SAFE_FLAGS, isForkSafe } from './forksafe';
import { lazy } from './lazy';
import { native } from './native';
import { Identity, identify, sessionMembers } from './proc';
import {
  HeldPidFile,
  acquirePidFile,
  closePidFile,
  recordOfThisProcess,
  releasePidFile,
  writeRecord,
} from './pidfile';
import { _exit, getsid, setsid, umask as setUmask, waitpid } from './posix';

const tty = lazy(() => require('tty') as typeof import('tty'));

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

interface Settings {
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

/** Space reserved in each log at launch, so that ENOSPC is the launcher's error. */
const LOG_RESERVE_BYTES = 64 * 1024;
/** Signals Node itself ignores; every other ignored disposition is reset in the daemon. */
const NODE_IGNORED_SIGNALS: readonly NodeJS.Signals[] = ['SIGPIPE', 'SIGXFSZ'];
/** Signals whose default action would end the daemon without removing its pidfile. */
const CLEANUP_SIGNALS: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP'];

let daemonized = false;

/**
 * daemonize(options?) — Python's classic `daemonize()` recipe (fork, setsid, fork, chdir,
 * umask, stdio to /dev/null, pidfile) and the SysV steps of daemon(7), returning only in the
 * daemon. The launching process never returns: it exits 0 once the daemon has written its
 * pidfile (with `waitForReady`, once the daemon calls `ready()`), or throws: a TypeError or
 * RangeError for bad options, ERR_DAEMON_RUNNING ("already running (pid N)") when the pidfile
 * is locked by a live daemon, a system error for unusable paths — all before anything forks —
 * or a DaemonStartError when the daemon fails first.
 *
 * Strategy: in-process double fork when node runs with --single-threaded (the daemon keeps
 * this process's state); otherwise the grandchild re-executes this script with
 * --single-threaded and everything before daemonize() runs again there. `detach: 'auto'`
 * does not fork when started by init or systemd (parent pid 1, $INVOCATION_ID or
 * $NOTIFY_SOCKET set).
 *
 * Platform notes: Linux and macOS. Descriptor checks use /proc/self/fd on Linux and /dev/fd on
 * macOS; the "is this pid still our program" check of stale pidfiles needs /proc (on macOS
 * only the lock decides).
 */
export function daemonize(options?: DaemonizeOptions): Daemon {
  if (arguments.length > 1) {
    const count = arguments.length;
    throw argError(TypeError, 'ERR_TOO_MANY_ARGS', `Expected at most 1 argument(s), received ${count}`);
  }
  if (handover !== null && !daemonized) return finishReexec(handover, options);
  const settings = normalizeOptions(options);
  if (daemonized) {
    throw Object.assign(new Error('daemonize() was already called in this process'), {
      code: 'ERR_ALREADY_DAEMONIZED',
    });
  }
  if (!native.onMainThread) {
    throw Object.assign(new Error('daemonize() is only supported on the main thread'), {
      code: 'ERR_DAEMONIZE_IN_WORKER',
    });
  }
  const detach = settings.detach === 'auto' ? !startedBySupervisor() : settings.detach;
  if (!detach) return becomeInPlace(settings);
  checkPathsBeforeFork(settings);
  return isForkSafe() ? launchByFork(settings) : launchByReexec(settings);
}

// ---- options --------------------------------------------------------------------------

type ErrorClass = new (message: string) => Error;

function argError(kind: ErrorClass, code: string, message: string): Error {
  return Object.assign(new kind(message), { code });
}

function describeValue(value: unknown): string {
  if (value === null) return 'Received null';
  if (typeof value === 'function') return 'Received function';
  if (typeof value === 'object') return 'Received an instance of Object';
  return `Received ${inspect(value)}`;
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

function normalizeOptions(options: unknown): Settings {
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
    const mask = given.umask;
    if (typeof mask !== 'number') {
      throw argError(TypeError, 'ERR_INVALID_ARG_TYPE',
        `The "options.umask" property must be of type number. ${describeValue(mask)}`);
    }
    if (!Number.isInteger(mask) || mask < 0 || mask > 0o777) {
      throw argError(RangeError, 'ERR_OUT_OF_RANGE',
        'The value of "options.umask" is out of range. ' +
          `It must be an integer >= 0 and <= 0o777. Received ${mask}`);
    }
    settings.umask = mask;
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
    const ms = given.startTimeoutMs;
    if (typeof ms !== 'number') {
      throw argError(TypeError, 'ERR_INVALID_ARG_TYPE',
        `The "options.startTimeoutMs" property must be of type number. ${describeValue(ms)}`);
    }
    if (!Number.isInteger(ms) || ms < 1 || ms > 0x7fffffff) {
      throw argError(RangeError, 'ERR_OUT_OF_RANGE',
        'The value of "options.startTimeoutMs" is out of range. ' +
          `It must be an integer >= 1 and <= 2147483647. Received ${ms}`);
    }
    settings.startTimeoutMs = ms;
  }
  return settings;
}

/** daemon(7): a process started by init or systemd is already detached; do not fork. */
function startedBySupervisor(): boolean {
  return process.ppid === 1 || !!process.env.INVOCATION_ID || !!process.env.NOTIFY_SOCKET;
}

function checkPathsBeforeFork(settings: Settings): void {
  const stat = fs.statSync(settings.workingDirectory);
  if (!stat.isDirectory()) {
    throw Object.assign(new Error(`chdir ENOTDIR: ${settings.workingDirectory} is not a directory`), {
      code: 'ENOTDIR',
      errno: -20,
      syscall: 'chdir',
      path: settings.workingDirectory,
    });
  }
  for (const fd of settings.keepFds) fs.fstatSync(fd); // EBADF now, not in the daemon
}

// ---- the launcher ---------------------------------------------------------------------

interface LaunchResources {
  pidFile: HeldPidFile | null;
  devNull: number;
  stdout: number;
  stderr: number;
  statusRead: number;
  statusWrite: number;
}

/** Everything that can fail is opened here, before any fork; closed again on failure. */
function openLaunchResources(settings: Settings): LaunchResources {
  const opened: number[] = [];
  let pidFile: HeldPidFile | null = null;
  try {
    if (settings.pidFile !== null) pidFile = acquirePidFile(settings.pidFile);
    const devNull = fs.openSync('/dev/null', 'r+');
    opened.push(devNull);
    const openLog = (file: string | null): number => {
      if (file === null) return devNull;
      const fd = openLogFile(file);
      opened.push(fd);
      return fd;
    };
    const stdout = openLog(settings.stdout);
    const sameLog = settings.stderr !== null && settings.stderr === settings.stdout;
    const stderr = sameLog ? stdout : openLog(settings.stderr);
    const [statusRead, statusWrite] = native.pipe();
    return { pidFile, devNull, stdout, stderr, statusRead, statusWrite };
  } catch (error) {
    for (const fd of opened) closeQuietly(fd);
    if (pidFile !== null) releasePidFile(pidFile);
    throw error;
  }
}

/** Closes the launcher's end of the status pipe, or its write end, once. */
function closeStatusEnd(resources: LaunchResources, end: 'statusRead' | 'statusWrite'): void {
  if (resources[end] < 0) return;
  closeQuietly(resources[end]);
  resources[end] = -1;
}

function closeLaunchResources(resources: LaunchResources, keepPidFile: boolean): void {
  for (const fd of new Set([resources.devNull, resources.stdout, resources.stderr])) closeQuietly(fd);
  closeStatusEnd(resources, 'statusRead');
  closeStatusEnd(resources, 'statusWrite');
  if (resources.pidFile !== null) {
    if (keepPidFile) closePidFile(resources.pidFile);
    else releasePidFile(resources.pidFile);
  }
}

function launchByFork(settings: Settings): Daemon {
  const resources = openLaunchResources(settings);
  let child: number;
  try {
    child = fork();
  } catch (error) {
    closeLaunchResources(resources, false);
    throw error;
  }
  if (child > 0) {
    closeStatusEnd(resources, 'statusWrite');
    waitpid(child); // the first child exits at once; no zombie is left behind
    return superviseLaunch(resources, settings.waitForReady);
  }
  // The first child: a new session, so it has no controlling terminal; then fork again so
  // the daemon is not a session leader and can never acquire one (daemon(7) steps 6-8).
  try {
    closeStatusEnd(resources, 'statusRead');
    setsid();
    if (fork() > 0) _exit(0);
  } catch (error) {
    sendStatus(resources.statusWrite, { event: 'failed', message: describeError(error) });
    _exit(1);
  }
  return becomeDaemon(settings, resources);
}

function launchByReexec(settings: Settings): Daemon {
  const script = process.argv[1];
  const evaluates = process.execArgv.some((arg) => /^(-e|-p|--eval|--print)(=|$)/.test(arg));
  if ((script === undefined || script === '-') && !evaluates) {
    throw Object.assign(
      new Error(
        'daemonize() cannot re-execute this program (no script file); start node with ' +
          `${FORK_SAFE_FLAGS.join(' ')} to daemonize in-process`,
      ),
      { code: 'ERR_DAEMONIZE_REEXEC' },
    );
  }
  const resources = openLaunchResources(settings);
  let daemonPid: number;
  try {
    // The daemon's descriptors: 0-2, the kept ones at their numbers, ours in the lowest free
    // numbers (below 16, where Node marks inherited fds close-on-exec at start-up).
    const taken = new Set<number>([0, 1, 2, ...settings.keepFds]);
    const nextFree = (): number => {
      let fd = 3;
      while (taken.has(fd)) fd++;
      taken.add(fd);
      return fd;
    };
    const statusFd = nextFree();
    const pidFd = resources.pidFile !== null ? nextFree() : null;
    const fdMap = [0, resources.devNull, 1, resources.stdout, 2, resources.stderr];
    for (const fd of settings.keepFds) fdMap.push(fd, fd);
    fdMap.push(statusFd, resources.statusWrite);
    if (pidFd !== null && resources.pidFile !== null) fdMap.push(pidFd, resources.pidFile.fd);
    const state: Handover = {
      v: 1,
      status: statusFd,
      statusIno: fs.fstatSync(resources.statusWrite).ino,
      pidFd,
      pidFile: resources.pidFile?.path ?? null,
      waitForReady: settings.waitForReady,
    };
    const env: Record<string, string | undefined> = { ...process.env };
    for (const [name, value] of settings.env) {
      if (value === null) delete env[name];
      else env[name] = value;
    }
    env[HANDOVER_ENV] = JSON.stringify(state);
    const envList = Object.entries(env)
      .filter((entry): entry is [string, string] => entry[1] !== undefined)
      .map(([name, value]) => `${name}=${value}`);
    const execArgv = process.execArgv.filter((arg) => !FORK_SAFE_FLAGS.includes(arg));
    const argv = [process.execPath, ...FORK_SAFE_FLAGS, ...execArgv, ...process.argv.slice(1)];
    daemonPid = native.spawnDetached(process.execPath, argv, envList, fdMap);
  } catch (error) {
    closeLaunchResources(resources, false);
    throw error;
  }
  closeStatusEnd(resources, 'statusWrite');
  const reexecuted = identify(daemonPid); // what proves it is still ours when the time is up
  return superviseLaunch(resources, settings.waitForReady, daemonPid, {
    ms: settings.startTimeoutMs,
    daemon: reexecuted,
  });
}

interface StatusMessage {
  event: 'started' | 'ready' | 'failed' | 'exit' | 'signal';
  pid?: number;
  message?: string;
  code?: number;
  signal?: NodeJS.Signals;
}

/** daemon(7) steps 14-15: wait for the daemon's word, then exit 0 or throw its error. */
function superviseLaunch(
  resources: LaunchResources,
  waitForReady: boolean,
  knownPid?: number,
  startTimeout?: { ms: number; daemon: Identity | null },
): never {
  const outcome = {
    pid: knownPid ?? null,
    started: false,
    ready: false,
    error: null as string | null,
    exitCode: null as number | null,
    signal: null as NodeJS.Signals | null,
  };
  const done = (): boolean =>
    (outcome.started && (!waitForReady || outcome.ready)) ||
    outcome.exitCode !== null ||
    outcome.signal !== null;
  const deadline = startTimeout !== undefined ? Date.now() + startTimeout.ms : null;
  const timedOut = !readStatusLines(resources.statusRead, () => (outcome.started ? null : deadline), (message) => {
    switch (message.event) {
      case 'started':
        outcome.started = true;
        outcome.pid = message.pid ?? outcome.pid;
        break;
      case 'ready':
        outcome.ready = true;
        break;
      case 'failed':
        outcome.error = message.message ?? 'unknown error';
        break;
      case 'exit':
        outcome.exitCode = message.code ?? 1;
        break;
      case 'signal':
        outcome.signal = message.signal ?? null;
        break;
    }
    return done();
  });
  if (timedOut && startTimeout !== undefined) {
    closeLaunchResources(resources, false);
    endReexecuted(startTimeout.daemon);
    throw new DaemonStartError(
      `the re-executed program (pid ${knownPid}) did not reach daemonize() within ` +
        `${startTimeout.ms} ms; it was ended`,
      knownPid ?? null, null, null, null);
  }
  const succeeded = outcome.started && (!waitForReady || outcome.ready);
  // Success: the daemon holds the pidfile now; failure: the daemon is gone, remove it.
  closeLaunchResources(resources, succeeded);
  if (succeeded) exitLauncher();
  const stage = waitForReady ? 'before it was ready' : 'before it started';
  const who = outcome.pid !== null ? `the daemon (pid ${outcome.pid})` : 'the daemon';
  let message: string;
  if (outcome.error !== null) message = `${who} failed ${stage}:\n${outcome.error}`;
  else if (outcome.signal !== null) message = `${who} was terminated by ${outcome.signal} ${stage}`;
  else if (outcome.exitCode !== null) message = `${who} exited with code ${outcome.exitCode} ${stage}`;
  else message = `${who} ended ${stage}`;
  throw new DaemonStartError(message, outcome.pid, outcome.error, outcome.exitCode, outcome.signal);
}

/**
 * Reads the daemon's status messages until `onMessage` says done or the pipe closes (true),
 * or until the time `deadline()` gives has passed with nothing to read (false).
 */
function readStatusLines(
  fd: number,
  deadline: () => number | null,
  onMessage: (message: StatusMessage) => boolean,
): boolean {
  const buffer = Buffer.alloc(16384);
  let pending = '';
  for (;;) {
    const until = deadline();
    if (until !== null && !native.waitReadable(fd, Math.max(0, until - Date.now()))) return false;
    let n: number;
    try {
      n = fs.readSync(fd, buffer, 0, buffer.length, null);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EINTR') continue;
      if ((error as NodeJS.ErrnoException).code === 'EAGAIN') {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
        continue;
      }
      throw error;
    }
    if (n === 0) return true;
    pending += buffer.toString('utf8', 0, n);
    let newline: number;
    while ((newline = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      let message: StatusMessage;
      try {
        message = JSON.parse(line) as StatusMessage;
      } catch {
        continue;
      }
      if (onMessage(message)) return true;
    }
  }
}

/** Ends a re-executed program that never reached daemonize(): its whole new session. */
function endReexecuted(daemon: Identity | null): void {
  if (daemon === null) return;
  const now = identify(daemon.pid);
  if (now === null || now.start !== daemon.start) return; // gone; the pid may be another's now
  const members = process.platform === 'linux' && now.sid > 0 ? sessionMembers(now.sid) : [now];
  for (const member of members) {
    try {
      process.kill(member.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/**
 * The launcher's end: like daemon(3) and python-daemon, without the 'exit' event, whose
 * listeners belong to the program that goes on in the daemon.
 */
function exitLauncher(): never {
  (process as unknown as { reallyExit(code: number): never }).reallyExit(0);
  return _exit(0); // not reached
}

// ---- the daemon -----------------------------------------------------------------------

interface DaemonRuntime {
  /** The daemon's pid: its fork() children inherit the listeners, which must ignore them. */
  pid: number;
  pidFile: HeldPidFile | null;
  status: number | null; // to the launcher; open until started (or ready, with waitForReady)
  forked: boolean;
  isReady: boolean;
  cleanedUp: boolean;
  monitor: ((error: unknown) => void) | null;
  stopWatchingForks: (() => void) | null;
}

/** The fork strategy's grandchild: the SysV steps, then the pidfile, then "started". */
function becomeDaemon(settings: Settings, resources: LaunchResources): Daemon {
  daemonized = true;
  const runtime: DaemonRuntime = {
    pid: process.pid,
    pidFile: resources.pidFile,
    status: resources.statusWrite,
    forked: true,
    isReady: false,
    cleanedUp: false,
    monitor: null,
    stopWatchingForks: null,
  };
  try {
    resetSignals(); // daemon(7) steps 2-3
    // Step 9: stdio onto /dev/null or the logs (the seed's dup2 calls).
    native.replaceFd(resources.devNull, 0, false);
    native.replaceFd(resources.stdout, 1, false);
    native.replaceFd(resources.stderr, 2, false);
    const keep = new Set<number>([...settings.keepFds, resources.statusWrite]);
    if (resources.pidFile !== null) keep.add(resources.pidFile.fd);
    retargetStdioHandles({ stdout: true, stderr: true }, true, resources.devNull, keep);
    for (const fd of new Set([resources.devNull, resources.stdout, resources.stderr])) closeQuietly(fd);
    closeInheritedFds(keep); // step 1
  } catch (error) {
    failEarly(runtime, error);
  }
  return finishSetup(runtime, settings);
}

/** The re-executed daemon: the native side did the forks, signals and fds before execve. */
function finishReexec(state: Handover, options: unknown): Daemon {
  daemonized = true;
  const runtime: DaemonRuntime = {
    pid: process.pid,
    pidFile: state.pidFd !== null && state.pidFile !== null
      ? { path: state.pidFile, fd: state.pidFd }
      : null,
    status: state.status,
    forked: true,
    isReady: false,
    cleanedUp: false,
    monitor: null,
    stopWatchingForks: null,
  };
  let settings: Settings;
  try {
    // dup2 handed these over inheritable; nothing the daemon runs may inherit them.
    native.replaceFd(state.status, state.status, true);
    if (state.pidFd !== null) native.replaceFd(state.pidFd, state.pidFd, true);
    settings = { ...normalizeOptions(options), waitForReady: state.waitForReady };
    resetSignals();
  } catch (error) {
    failEarly(runtime, error);
  }
  return finishSetup(runtime, settings);
}

/** No fork (detach false, or started by init/systemd): a new-style daemon in place. */
function becomeInPlace(settings: Settings): Daemon {
  const pidFile = settings.pidFile !== null ? acquirePidFile(settings.pidFile) : null;
  daemonized = true;
  const runtime: DaemonRuntime = {
    pid: process.pid,
    pidFile,
    status: null,
    forked: false,
    isReady: false,
    cleanedUp: false,
    monitor: null,
    stopWatchingForks: null,
  };
  try {
    resetSignals();
    // Stdio is redirected only when asked: under systemd, stdout and stderr are the journal.
    if (settings.stdoutGiven || settings.stderrGiven) {
      const devNull = fs.openSync('/dev/null', 'r+');
      const opened = [devNull];
      const open = (file: string | null): number => {
        if (file === null) return devNull;
        const fd = openLogFile(file);
        opened.push(fd);
        return fd;
      };
      if (settings.stdoutGiven) native.replaceFd(open(settings.stdout), 1, false);
      if (settings.stderrGiven) native.replaceFd(open(settings.stderr), 2, false);
      retargetStdioHandles(
        { stdout: settings.stdoutGiven, stderr: settings.stderrGiven },
        false,
        devNull,
        new Set(settings.keepFds),
      );
      for (const fd of opened) closeQuietly(fd);
    }
  } catch (error) {
    if (pidFile !== null) releasePidFile(pidFile);
    daemonized = false;
    throw error;
  }
  return finishSetup(runtime, settings);
}

/** Steps 4, 10, 11, 12 and 14 for every strategy. Returns the Daemon. */
function finishSetup(runtime: DaemonRuntime, settings: Settings): Daemon {
  installLifecycle(runtime);
  try {
    for (const [name, value] of settings.env) {
      if (value === null) delete process.env[name];
      else process.env[name] = value;
    }
    setUmask(settings.umask);
    process.chdir(settings.workingDirectory);
    if (runtime.pidFile !== null) {
      // A detached daemon records its session: `stop` ends every process left in it.
      writeRecord(runtime.pidFile, recordOfThisProcess(runtime.forked ? getsid() : null));
    }
  } catch (error) {
    if (runtime.status === null) {
      uninstallAndCleanUp(runtime);
      throw error;
    }
    failEarly(runtime, error);
  }
  if (runtime.status !== null) {
    sendStatus(runtime.status, { event: 'started', pid: process.pid });
    if (!settings.waitForReady) closeStatus(runtime);
  }
  const pid = process.pid;
  const pidFile = runtime.pidFile?.path ?? null;
  return Object.freeze({
    pid,
    pidFile,
    ready(): void {
      if (arguments.length > 0) {
        const count = arguments.length;
        throw argError(TypeError, 'ERR_TOO_MANY_ARGS', `Expected at most 0 argument(s), received ${count}`);
      }
      markReady(runtime);
    },
    fail(error: unknown): never {
      if (arguments.length < 1) {
        throw argError(TypeError, 'ERR_MISSING_ARGS', 'Expected at least 1 argument(s), received 0');
      }
      return failDaemon(runtime, error);
    },
  });
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
let lifecycleListeners: Array<[string, (...args: any[]) => void]> = [];

function installLifecycle(runtime: DaemonRuntime): void {
  const inDaemon = (): boolean => process.pid === runtime.pid;
  const onExit = (code: number): void => {
    if (!inDaemon()) return; // a child the daemon forked: the pidfile is not its to remove
    cleanUp(runtime);
    if (runtime.status !== null) {
      sendStatus(runtime.status, { event: 'exit', code });
      closeStatus(runtime);
    }
  };
  lifecycleListeners = [['exit', onExit]];
  process.on('exit', onExit);
  const held = runtime.pidFile;
  if (held !== null) {
    // The daemon's own fork() children hold neither its lock nor its pidfile.
    onFork(() => () => {
      closePidFile(held);
      runtime.pidFile = null;
    });
  }
  for (const signal of CLEANUP_SIGNALS) {
    const onSignal = (): void => {
      // Another listener means the program handles this signal; its exit removes the pidfile.
      if (process.listenerCount(signal) > 1) return;
      if (inDaemon()) cleanUp(runtime);
      if (runtime.status !== null && inDaemon()) {
        sendStatus(runtime.status, { event: 'signal', signal });
        closeStatus(runtime);
      }
      process.removeListener(signal, onSignal);
      process.kill(process.pid, signal); // the default action now: the status says the signal
    };
    lifecycleListeners.push([signal, onSignal]);
    process.on(signal, onSignal);
  }
  if (runtime.status !== null) {
    runtime.monitor = (error: unknown): void => {
      if (runtime.status !== null && inDaemon()) {
        sendStatus(runtime.status, { event: 'failed', message: describeError(error) });
      }
    };
    process.on('uncaughtExceptionMonitor', runtime.monitor);
    // A child forked before ready() must not hold the launcher's pipe open.
    const unsubscribe = onFork(() => () => {
      unsubscribe();
      closeStatus(runtime);
    });
    runtime.stopWatchingForks = unsubscribe;
  }
}

function uninstallAndCleanUp(runtime: DaemonRuntime): void {
  for (const [event, listener] of lifecycleListeners) process.removeListener(event, listener);
  lifecycleListeners = [];
  if (runtime.monitor) process.removeListener('uncaughtExceptionMonitor', runtime.monitor);
  cleanUp(runtime);
  daemonized = false;
}

function cleanUp(runtime: DaemonRuntime): void {
  if (runtime.cleanedUp) return;
  runtime.cleanedUp = true;
  if (runtime.pidFile !== null) releasePidFile(runtime.pidFile);
}

function closeStatus(runtime: DaemonRuntime): void {
  if (runtime.status === null) return;
  closeQuietly(runtime.status);
  runtime.status = null;
  if (runtime.monitor) {
    process.removeListener('uncaughtExceptionMonitor', runtime.monitor);
    runtime.monitor = null;
  }
  runtime.stopWatchingForks?.();
  runtime.stopWatchingForks = null;
}

/** Setup failed inside the daemon: tell the launcher, leave no pidfile, exit 1. */
function failEarly(runtime: DaemonRuntime, error: unknown): never {
  if (runtime.status !== null) sendStatus(runtime.status, { event: 'failed', message: describeError(error) });
  return failDaemon(runtime, error);
}

function markReady(runtime: DaemonRuntime): void {
  if (runtime.isReady || process.pid !== runtime.pid) return;
  runtime.isReady = true;
  if (runtime.status !== null) {
    sendStatus(runtime.status, { event: 'ready' });
    closeStatus(runtime);
  }
  notifySupervisor(runtime.forked ? `READY=1\nMAINPID=${process.pid}` : 'READY=1');
}

function failDaemon(runtime: DaemonRuntime, error: unknown): never {
  const text = describeError(error);
  if (runtime.status !== null && process.pid === runtime.pid) {
    sendStatus(runtime.status, { event: 'failed', message: text });
  }
  try {
    fs.writeSync(2, `daemon (pid ${process.pid}) failed: ${text}\n`);
  } catch {
    // stderr is /dev/null or gone: the launcher and the exit status still tell.
  }
  process.exit(1);
}

/** sd_notify(3): one datagram to $NOTIFY_SOCKET; a failure is a warning, not a crash. */
function notifySupervisor(message: string): void {
  const socket = process.env.NOTIFY_SOCKET;
  if (!socket) return;
  try {
    native.notifySocket(socket, message);
  } catch (error) {
    process.emitWarning(`could not notify systemd at ${socket}: ${(error as Error).message}`, {
      code: 'POSIX_FORK_NOTIFY_FAILED',
    });
  }
}

function resetSignals(): void {
  const signals = os.constants.signals as Record<string, number>;
  native.resetSignalState(NODE_IGNORED_SIGNALS.map((name) => signals[name]).filter(Boolean));
}

function sendStatus(fd: number, message: StatusMessage): void {
  const data = Buffer.from(`${JSON.stringify(message)}\n`);
  let offset = 0;
  try {
    while (offset < data.length) offset += fs.writeSync(fd, data, offset);
  } catch {
    // The launcher is gone (EPIPE): nobody is waiting any more.
  }
}

function describeError(error: unknown): string {
  return error instanceof Error ? inspect(error) : `Uncaught ${inspect(error)}`;
}

// ---- descriptors ----------------------------------------------------------------------

/**
 * daemon(7) step 1 for the in-process fork: closes every descriptor >= 3 that is not kept and
 * was passed to this program (inheritable now, or open since start-up and still the same file).
 * Descriptors the program opened itself stay: they belong to live objects (servers, streams,
 * the event loop), and closing them behind Node's back would break those objects.
 */
function closeInheritedFds(keep: ReadonlySet<number>): void {
  for (const fd of listFds()) {
    if (fd <= 2 || keep.has(fd)) continue;
    let inheritable: boolean;
    try {
      inheritable = !native.closeOnExec(fd);
    } catch {
      continue; // closed since the listing (the listing's own handle)
    }
    const atStart = startupFds.get(fd);
    if (inheritable || (atStart !== undefined && atStart === identityOf(fd))) closeQuietly(fd);
  }
}

/**
 * A terminal on stdout/stderr is not used through fd 1/2: libuv reopens it as a new
 * descriptor (so it can be non-blocking). Points the handles of the redirected streams at
 * their new targets too; when `detached`, also every other descriptor still on a terminal
 * (a TTY stdin handle) at /dev/null, so the daemon keeps no terminal open.
 */
function retargetStdioHandles(
  redirected: { stdout: boolean; stderr: boolean },
  detached: boolean,
  devNull: number,
  keep: ReadonlySet<number>,
): void {
  const streams: Array<[NodeJS.WriteStream, number, boolean]> = [
    [process.stdout, 1, redirected.stdout],
    [process.stderr, 2, redirected.stderr],
  ];
  const handled = new Set<number>();
  for (const [stream, fd, wanted] of streams) {
    if (!wanted) continue;
    const handleFd = (stream as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
    if (typeof handleFd === 'number' && handleFd > 2 && !keep.has(handleFd)) {
      native.replaceFd(fd, handleFd, true);
      handled.add(handleFd);
      // No terminal any more: console must stop writing colour codes into the log.
      if (stream.isTTY) (stream as { isTTY: boolean }).isTTY = false;
    }
  }
  if (!detached) return;
  for (const fd of listFds()) {
    if (fd <= 2 || keep.has(fd) || handled.has(fd) || fd === devNull) continue;
    let terminal = false;
    try {
      terminal = tty().isatty(fd);
    } catch {
      terminal = false;
    }
    if (terminal) native.replaceFd(devNull, fd, true);
  }
}

/**
 * Opens a log for appending: created 0644, never through a symbolic link, never a file that
 * belongs to another user; space is reserved so that a full disk is reported now.
 */
function openLogFile(file: string): number {
  const { O_WRONLY, O_APPEND, O_CREAT, O_NOFOLLOW, O_NONBLOCK } = fs.constants;
  let fd: number;
  try {
    fd = fs.openSync(file, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK, 0o644);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ELOOP' && code !== 'ENXIO') throw error;
    const why = code === 'ELOOP' ? 'is a symbolic link; refusing to follow it' : 'is a FIFO without a reader';
    throw Object.assign(new Error(`log file ${file} ${why}`), { code: 'ERR_INVALID_LOG_FILE', path: file, cause: error });
  }
  try {
    const stat = fs.fstatSync(fd);
    const euid = process.geteuid?.() ?? 0;
    if (stat.isFile() && stat.uid !== euid && stat.uid !== 0) {
      throw Object.assign(
        new Error(`log file ${file} belongs to uid ${stat.uid}, neither this user (${euid}) nor root; refusing it`),
        { code: 'ERR_INVALID_LOG_FILE', path: file });
    }
    try {
      native.reserveSpace(fd, LOG_RESERVE_BYTES);
    } catch (error) {
      const e = error as NodeJS.ErrnoException;
      e.message = `${e.message}, '${file}'`;
      e.path = file;
      throw e;
    }
    return fd;
  } catch (error) {
    closeQuietly(fd);
    throw error;
  }
}

function closeQuietly(fd: number): void {
  try {
    fs.closeSync(fd);
  } catch {
    // EBADF: already closed.
  }
}
