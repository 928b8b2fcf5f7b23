// The launcher: takes the pidfile and opens the logs before anything forks (so "already
// running" and bad paths are thrown where the caller sees them), forks or re-executes, then
// waits on the status pipe until the daemon has written its pidfile (with waitForReady, until
// ready() or a failure) and ends.
import * as fs from 'fs';
import { DaemonStartError } from './start-error';
import { HANDOVER_ENV, Handover } from './startup';
import { closeQuietly } from '../fds';
import { fork } from '../fork';
import { FORK_SAFE_FLAGS } from '../forksafe';
import { native } from '../native';
import { HeldPidFile, acquirePidFile, closePidFile, releasePidFile } from '../pidfile';
import { _exit, setsid, waitpid } from '../posix';
import { Identity, identify, sessionMembers } from '../proc';
import { sleepMs } from '../sleep';
import { openLogFile } from './files';
import { Daemon, Settings } from './options';
import { becomeDaemon } from './runtime';
import { StatusMessage, describeError, sendStatus } from './status';

export function checkPathsBeforeFork(settings: Settings): void {
  const stat = fs.statSync(settings.workingDirectory);
  if (!stat.isDirectory()) {
    throw Object.assign(
      new Error(`chdir ENOTDIR: ${settings.workingDirectory} is not a directory`),
      {
        code: 'ENOTDIR',
        errno: -20,
        syscall: 'chdir',
        path: settings.workingDirectory,
      },
    );
  }
  for (const fd of settings.keepFds) fs.fstatSync(fd); // EBADF now, not in the daemon
}

export interface LaunchResources {
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
  for (const fd of new Set([resources.devNull, resources.stdout, resources.stderr]))
    closeQuietly(fd);
  closeStatusEnd(resources, 'statusRead');
  closeStatusEnd(resources, 'statusWrite');
  if (resources.pidFile !== null) {
    if (keepPidFile) closePidFile(resources.pidFile);
    else releasePidFile(resources.pidFile);
  }
}

export function launchByFork(settings: Settings): Daemon {
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

export function launchByReexec(settings: Settings): Daemon {
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
  const timedOut = !readStatusLines(
    resources.statusRead,
    () => (outcome.started ? null : deadline),
    (message) => {
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
    },
  );
  if (timedOut && startTimeout !== undefined) {
    closeLaunchResources(resources, false);
    endReexecuted(startTimeout.daemon);
    throw new DaemonStartError(
      `the re-executed program (pid ${knownPid}) did not reach daemonize() within ` +
        `${startTimeout.ms} ms; it was ended`,
      knownPid ?? null,
      null,
      null,
      null,
    );
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
  else if (outcome.exitCode !== null)
    message = `${who} exited with code ${outcome.exitCode} ${stage}`;
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
        sleepMs(10);
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
