// Pidfiles that tell the truth. The file is opened without truncation and locked with flock()
// before anything is read or written, and the lock is held by the daemon for its whole life:
// "is it running?" is answered by the lock, not by a number that may be stale or reused.
// flock (not fcntl record locks) because its lock belongs to the open file description: it
// survives fork() and execve(), so the launcher can take it and hand it to the daemon.
import * as fs from 'fs';
import { FORK_SAFE_FLAGS } from './forksafe';
import { native } from './native';

/** A pidfile this process holds locked. */
export interface HeldPidFile {
  readonly path: string;
  readonly fd: number;
  /** The pid found in the file when it was taken over (a stale or foreign pid), or null. */
  readonly previousPid: number | null;
}

/** What a pidfile says, for status tools. */
export interface PidFileState {
  /** The pid written in the file, or null (no file, empty or unreadable content). */
  pid: number | null;
  /** True when a process holds the file's lock: a daemon is running (or starting). */
  locked: boolean;
}

/** How long a second launcher waits for the first one's daemon to write its pid. */
const PID_WAIT_MS = 10000;

const { LOCK_EX, LOCK_NB } = native.flockConstants;

/**
 * Opens and locks `path` (created if missing, never truncated before the lock), so that
 * exactly one of any number of concurrent callers gets it. Throws ERR_DAEMON_RUNNING,
 * "already running (pid N)", when a live instance holds it; a stale file (its process is
 * dead, or is not this program) is taken over. `ownPids` are pids that never count as
 * another instance (the caller itself).
 */
export function acquirePidFile(path: string, ownPids: readonly number[] = []): HeldPidFile {
  const flags =
    fs.constants.O_RDWR | fs.constants.O_CREAT | (fs.constants.O_NOFOLLOW ?? 0);
  // The holder may unlink the file between our open() and our flock(): then we hold a lock
  // on a file nobody else will ever open. Check the path still names our file, else retry.
  for (let attempt = 0; attempt < 20; attempt++) {
    let fd: number;
    try {
      fd = fs.openSync(path, flags, 0o644);
    } catch (error) {
      throw explainOpenError(path, error);
    }
    try {
      const opened = fs.fstatSync(fd);
      if (!opened.isFile()) {
        throw Object.assign(new Error(`pidfile ${path} is not a regular file`), {
          code: 'ERR_INVALID_PIDFILE',
        });
      }
      if (!native.flock(fd, LOCK_EX | LOCK_NB)) {
        throw runningError(path, waitForPid(fd));
      }
      if (!namesSameFile(path, opened)) {
        fs.closeSync(fd);
        continue;
      }
      const previousPid = parsePid(readContent(fd));
      // An unlocked file whose pid is a live copy of this program: written by something that
      // does not lock (an older version, another tool). Believe it rather than start twice.
      if (
        previousPid !== null &&
        !ownPids.includes(previousPid) &&
        previousPid !== process.pid &&
        isThisProgram(previousPid)
      ) {
        throw runningError(path, previousPid);
      }
      // Stale content goes now, while we hold the lock; the daemon writes its pid next.
      if (previousPid !== null || opened.size > 0) fs.ftruncateSync(fd, 0);
      return { path, fd, previousPid };
    } catch (error) {
      closeQuietly(fd);
      throw error;
    }
  }
  throw Object.assign(new Error(`pidfile ${path} keeps being replaced; could not lock it`), {
    code: 'ERR_INVALID_PIDFILE',
  });
}

/** Writes `pid` into the held file and fsyncs it, so a reader never sees a partial pid. */
export function writePid(held: HeldPidFile, pid: number): void {
  fs.ftruncateSync(held.fd, 0);
  const text = `${pid}\n`;
  fs.writeSync(held.fd, text, 0, 'utf8');
  fs.fsyncSync(held.fd);
}

/** Removes the file if it is still ours (same inode at the path), then drops the lock. */
export function releasePidFile(held: HeldPidFile): void {
  try {
    if (namesSameFile(held.path, fs.fstatSync(held.fd))) fs.unlinkSync(held.path);
  } catch {
    // Already gone, or the directory is no longer writable: nothing more to do at exit.
  }
  closeQuietly(held.fd);
}

/** Closes our descriptor without removing the file (the lock stays with other holders). */
export function closePidFile(held: HeldPidFile): void {
  closeQuietly(held.fd);
}

/**
 * The pid in `path` and whether a process holds its lock, without taking the lock (Linux reads
 * /proc/locks; elsewhere a shared non-blocking lock is tried and dropped at once).
 */
export function readPidFile(path: string): PidFileState {
  let fd: number;
  try {
    fd = fs.openSync(path, fs.constants.O_RDONLY | (fs.constants.O_NOFOLLOW ?? 0));
  } catch {
    return { pid: null, locked: false };
  }
  try {
    const pid = parsePid(readContent(fd));
    const stat = fs.fstatSync(fd);
    const locked =
      process.platform === 'linux' ? lockedPerProcLocks(stat) : !tryShared(fd);
    return { pid, locked };
  } finally {
    closeQuietly(fd);
  }
}

function lockedPerProcLocks(stat: fs.Stats): boolean {
  let text: string;
  try {
    text = fs.readFileSync('/proc/locks', 'utf8');
  } catch {
    return false;
  }
  // "1: FLOCK  ADVISORY  WRITE 1234 fd:00:4711 0 EOF" (maj:min in hex, inode in decimal)
  const major = Math.floor(stat.dev / 256) & 0xfff;
  const minor = (stat.dev & 0xff) | ((stat.dev >> 12) & 0xfff00);
  for (const line of text.split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (fields[1] !== 'FLOCK') continue;
    const [maj, min, ino] = (fields[5] ?? '').split(':');
    if (
      Number(ino) === stat.ino &&
      parseInt(maj, 16) === major &&
      parseInt(min, 16) === minor
    ) {
      return true;
    }
  }
  return false;
}

function tryShared(fd: number): boolean {
  const { LOCK_SH, LOCK_UN } = native.flockConstants;
  if (!native.flock(fd, LOCK_SH | LOCK_NB)) return false;
  native.flock(fd, LOCK_UN);
  return true;
}

function runningError(path: string, pid: number | null): Error {
  const who = pid === null ? 'pid not written yet: another instance is starting' : `pid ${pid}`;
  return Object.assign(new Error(`already running (${who}): pidfile ${path} is locked`), {
    code: 'ERR_DAEMON_RUNNING',
    pid,
    pidFile: path,
  });
}

function explainOpenError(path: string, error: unknown): unknown {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ELOOP') {
    const wrapped = new Error(`pidfile ${path} is a symbolic link; refusing to follow it`);
    return Object.assign(wrapped, { code: 'ERR_INVALID_PIDFILE', cause: error });
  }
  return error;
}

function namesSameFile(path: string, opened: fs.Stats): boolean {
  try {
    const now = fs.statSync(path);
    return now.ino === opened.ino && now.dev === opened.dev;
  } catch {
    return false;
  }
}

function readContent(fd: number): string {
  const buffer = Buffer.alloc(64);
  const n = fs.readSync(fd, buffer, 0, buffer.length, 0);
  return buffer.toString('utf8', 0, n);
}

function parsePid(text: string): number | null {
  const match = /^\s*(\d{1,10})\s*$/.exec(text);
  if (!match) return null;
  const pid = Number(match[1]);
  return pid > 0 && pid <= 0x7fffffff ? pid : null;
}

// The lock holder writes its pid moments after taking the lock; wait for it a little.
function waitForPid(fd: number): number | null {
  const deadline = Date.now() + PID_WAIT_MS;
  const nap = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    const pid = parsePid(readContent(fd));
    if (pid !== null || Date.now() >= deadline) return pid;
    Atomics.wait(nap, 0, 0, 20);
  }
}

/** Alive and running the same program (same executable and main script) as this process. */
export function isThisProgram(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  // Without /proc (macOS) the program cannot be checked; the lock alone decides there.
  if (process.platform !== 'linux') return false;
  let args: string[];
  try {
    args = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return false;
  }
  if (args[args.length - 1] === '') args.pop();
  if (args.length === 0) return false; // a zombie or a kernel thread
  try {
    if (fs.realpathSync(`/proc/${pid}/exe`) !== fs.realpathSync(process.execPath)) return false;
  } catch {
    // Another user's process: its executable cannot be read; judge by the arguments.
  }
  const script = process.argv[1];
  if (script) return args.slice(1).includes(script);
  const ours = [...process.execArgv, ...process.argv.slice(1)].filter(notForkSafeFlag);
  return args.slice(1).filter(notForkSafeFlag).join('\0') === ours.join('\0');
}

function notForkSafeFlag(arg: string): boolean {
  return !FORK_SAFE_FLAGS.includes(arg);
}

function closeQuietly(fd: number): void {
  try {
    fs.closeSync(fd);
  } catch {
    // EBADF: already closed.
  }
}
