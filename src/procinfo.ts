// The state of any process as `ps` shows it (R, S, Z, …), with its parent, process group,
// session and terminal: how the examples and tests see zombies and orphans.
// Linux reads /proc/<pid>/stat; macOS asks ps(1).
import { readlinkSync } from 'fs';
import { lazy } from './lazy';
import { native } from './native';
import { readStat } from './proc';

const childProcess = lazy(() => require('child_process') as typeof import('child_process'));

export interface ProcessInfo {
  pid: number;
  /** Parent pid: 1 (or a subreaper) for an orphan. */
  ppid: number;
  /** Process group id. */
  pgid: number;
  /** Session id (-1 when the system does not tell, e.g. for a zombie on macOS). */
  sid: number;
  /** The one-letter state `ps` shows: R running, S sleeping, D disk wait, Z zombie, T stopped… */
  state: string;
  /** Controlling terminal as `ps` names it ('pts/3', 'tty1', 'ttys000'), or null for none. */
  tty: string | null;
  /** The process name as `ps -o comm` shows it ('node'); a zombie keeps its name. */
  command: string;
}

const MAX_INT32 = 2147483647;

function argumentError(
  Kind: TypeErrorConstructor | RangeErrorConstructor,
  code: string,
  message: string,
): Error {
  const error = new Kind(message);
  (error as NodeJS.ErrnoException).code = code;
  return error;
}

function received(value: unknown): string {
  if (value === null || value === undefined) return `Received ${String(value)}`;
  if (typeof value === 'function') return 'Received function';
  if (typeof value === 'object') {
    const name = Array.isArray(value) ? 'Array' : (value.constructor?.name ?? 'Object');
    return `Received an instance of ${name}`;
  }
  return `Received type ${typeof value} (${String(value)})`;
}

function checkPid(args: IArguments): number {
  if (args.length !== 1) {
    throw args.length === 0
      ? argumentError(TypeError, 'ERR_MISSING_ARGS', 'Expected at least 1 argument(s), received 0')
      : argumentError(TypeError, 'ERR_TOO_MANY_ARGS',
        `Expected at most 1 argument(s), received ${args.length}`);
  }
  const pid: unknown = args[0];
  if (typeof pid !== 'number') {
    throw argumentError(TypeError, 'ERR_INVALID_ARG_TYPE',
      `The "pid" argument must be of type number. ${received(pid)}`);
  }
  if (!Number.isInteger(pid) || pid < 1 || pid > MAX_INT32) {
    throw argumentError(RangeError, 'ERR_OUT_OF_RANGE',
      `The value of "pid" is out of range. It must be an integer >= 1 and <= ${MAX_INT32}. ` +
        `Received ${String(pid)}`);
  }
  return pid;
}

/**
 * What `ps -o pid,ppid,pgid,sid,stat,tty,comm -p PID` shows for `pid`, or null when there is
 * no such process (a reaped zombie is gone; an unreaped one is there with state 'Z').
 * No direct Python counterpart (psutil.Process(pid).status()/ppid() is the nearest).
 *
 * Linux: parsed from /proc/<pid>/stat (fields after the last ')', since the name may contain
 * spaces and parentheses); a thread id also answers. macOS: runs `ps -o ppid=,pgid=,tty=,
 * stat=,comm= -p PID` (a process start, about a millisecond) and getsid(2); `sid` is -1 when
 * getsid refuses (zombies). Throws TypeError/RangeError unless `pid` is an integer ≥ 1.
 */
export function processInfo(pid: number): ProcessInfo | null {
  checkPid(arguments);
  return process.platform === 'linux' ? linuxInfo(pid) : psInfo(pid);
}

function linuxInfo(pid: number): ProcessInfo | null {
  const stat = readStat(pid);
  if (stat === null) return null;
  return {
    pid,
    ppid: stat.ppid,
    pgid: stat.pgid,
    sid: stat.sid,
    state: stat.state,
    tty: linuxTtyName(stat.ttyNr),
    command: stat.comm,
  };
}

// tty_nr packs the device number: major in bits 8–19, minor in bits 0–7 and 20–31.
function linuxTtyName(ttyNr: number): string | null {
  if (ttyNr === 0) return null;
  const major = (ttyNr >> 8) & 0xfff;
  const minor = (ttyNr & 0xff) | ((ttyNr >> 12) & 0xfff00);
  if (major >= 136 && major <= 143) return `pts/${(major - 136) * 256 + minor}`;
  if (major === 4) return minor < 64 ? `tty${minor}` : `ttyS${minor - 64}`;
  if (major === 5 && minor === 0) return 'tty';
  if (major === 5 && minor === 1) return 'console';
  try {
    // udev's /dev/char/<major>:<minor> links name every other character device.
    return readlinkSync(`/dev/char/${major}:${minor}`).replace(/^(\.\.\/)+/, '');
  } catch {
    return `${major}:${minor}`;
  }
}

function psInfo(pid: number): ProcessInfo | null {
  let line: string;
  try {
    line = childProcess().execFileSync('/bin/ps', ['-o', 'ppid=,pgid=,tty=,stat=,comm=', '-p', String(pid)], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return null; // ps exits 1 when no process matches
  }
  if (line === '') return null;
  const match = /^(\d+)\s+(\d+)\s+(\S+)\s+(\S+)\s+(.*)$/.exec(line);
  if (match === null) return null;
  const [, ppid, pgid, tty, stat, comm] = match;
  let sid = -1;
  try {
    sid = native.getsid(pid);
  } catch {
    // a zombie (or another user's process under a strict policy): ps did not give it either
  }
  return {
    pid,
    ppid: Number(ppid),
    pgid: Number(pgid),
    sid,
    state: stat[0],
    tty: tty === '??' || tty === '?' ? null : tty.startsWith('tty') || tty === 'console' ? tty
      : `tty${tty}`,
    command: comm.slice(comm.lastIndexOf('/') + 1),
  };
}
