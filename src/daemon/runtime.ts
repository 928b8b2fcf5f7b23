// The daemon's side: the daemon(7) steps in the process that goes on (fork strategy,
// re-executed program, or in place), the pidfile record, readiness, and the exit handlers
// that remove the pidfile.
import * as fs from 'fs';
import { checkArity } from '../args';
import { onFork } from '../child-runtime';
import { Handover } from './startup';
import { closeQuietly } from '../fds';
import { native } from '../native';
import {
  HeldPidFile,
  acquirePidFile,
  closePidFile,
  recordOfThisProcess,
  releasePidFile,
  writeRecord,
} from '../pidfile';
import { getsid, umask as setUmask } from '../posix';
import { closeInheritedFds, openLogFile, retargetStdioHandles } from './files';
import type { LaunchResources } from './launcher';
import { Daemon, Settings, normalizeOptions } from './options';
import { describeError, sendStatus } from './status';

/** Signals whose default action would end the daemon without removing its pidfile. */
const CLEANUP_SIGNALS: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP'];

let daemonized = false;

/** True once daemonize() has made this process a daemon (or is making it one). */
export function isDaemonized(): boolean {
  return daemonized;
}

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
export function becomeDaemon(settings: Settings, resources: LaunchResources): Daemon {
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
    // Step 9: stdio onto /dev/null or the logs (the classic recipe's dup2 calls).
    native.replaceFd(resources.devNull, 0, false);
    native.replaceFd(resources.stdout, 1, false);
    native.replaceFd(resources.stderr, 2, false);
    const keep = new Set<number>([...settings.keepFds, resources.statusWrite]);
    if (resources.pidFile !== null) keep.add(resources.pidFile.fd);
    retargetStdioHandles({ stdout: true, stderr: true }, true, resources.devNull, keep);
    for (const fd of new Set([resources.devNull, resources.stdout, resources.stderr]))
      closeQuietly(fd);
    closeInheritedFds(keep); // step 1
  } catch (error) {
    failEarly(runtime, error);
  }
  return finishSetup(runtime, settings);
}

/** The re-executed daemon: the native side did the forks, signals and fds before execve. */
export function finishReexec(state: Handover, options: unknown): Daemon {
  daemonized = true;
  const runtime: DaemonRuntime = {
    pid: process.pid,
    pidFile:
      state.pidFd !== null && state.pidFile !== null
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
export function becomeInPlace(settings: Settings): Daemon {
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
      if (arguments.length > 0) checkArity(arguments, 0, 0);
      markReady(runtime);
    },
    fail(error: unknown): never {
      if (arguments.length < 1) checkArity(arguments, 1, Infinity);
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
  if (runtime.status !== null)
    sendStatus(runtime.status, { event: 'failed', message: describeError(error) });
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

// Every ignored disposition goes back to the default but Node's own (native.nodeIgnoredSignals,
// the list the re-executed daemon's native reset keeps too); the signal mask is emptied.
function resetSignals(): void {
  native.resetSignalState(native.nodeIgnoredSignals);
}
