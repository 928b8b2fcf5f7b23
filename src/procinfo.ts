// The state of any process as `ps` shows it (R, S, Z, …), with its parent, process group,
// session and terminal: how the examples and tests see zombies and orphans.
// Linux reads /proc/<pid>/stat; macOS asks ps(1).
import { readlinkSync } from 'fs';
import { MAX_INT32, checkArity, checkInteger } from './args';
import { lazy } from './lazy';
import { native } from './native';
import { deviceNumbers, readStat } from './proc';

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

/**
 * What `ps -o pid,ppid,pgid,sid,stat,tty,comm -p PID` shows for `pid`, or null when there is
 * no such process (a reaped zombie is gone; an unreaped one is there with state 'Z').
 * No direct Python counterpart (psutil.Process(pid).status()/ppid() is the nearest).
 *
 * Linux: parsed from /proc/<pid>/stat (fields after the last ')', since the name may contain
 * spaces and parentheses); a thread id also answers. macOS: runs `ps -o ppid=,pgid=,tty=,
 * stat=,comm= -p PID` (a process start) and getsid(2); `sid` is -1 when
 * getsid refuses (zombies). Throws TypeError/RangeError unless `pid` is an integer ≥ 1.
 */
export function processInfo(pid: number): ProcessInfo | null {
  checkArity(arguments, 1, 1);
  checkInteger('pid', pid, 1, MAX_INT32);
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
    tty: ttyName(stat.ttyNr),
    command: stat.comm,
  };
}

/**
 * The name `ps` shows for a terminal device number (tty_nr of /proc/<pid>/stat), or null for
 * none.
 * `lookup` names the devices without a fixed number (udev's /dev/char links).
 */
export function ttyName(
  ttyNr: number,
  lookup: (major: number, minor: number) => string | null = charDeviceName,
): string | null {
  if (ttyNr === 0) return null;
  const { major, minor } = deviceNumbers(ttyNr);
  if (major >= 136 && major <= 143) return `pts/${(major - 136) * 256 + minor}`;
  if (major === 4) return minor < 64 ? `tty${minor}` : `ttyS${minor - 64}`;
  if (major === 5 && minor === 0) return 'tty';
  if (major === 5 && minor === 1) return 'console';
  return lookup(major, minor) ?? `${major}:${minor}`;
}

function charDeviceName(major: number, minor: number): string | null {
  try {
    return readlinkSync(`/dev/char/${major}:${minor}`).replace(/^(\.\.\/)+/, '');
  } catch {
    return null;
  }
}

/** The TTY column of macOS ps as the name ps shows on Linux: '??' none, 's000' 'ttys000'. */
export function psTtyName(column: string): string | null {
  if (column === '??' || column === '?') return null;
  return column.startsWith('tty') || column === 'console' ? column : `tty${column}`;
}

function psInfo(pid: number): ProcessInfo | null {
  let line: string;
  try {
    line = childProcess()
      .execFileSync('/bin/ps', ['-o', 'ppid=,pgid=,tty=,stat=,comm=', '-p', String(pid)], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      })
      .trim();
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
    tty: psTtyName(tty),
    command: comm.slice(comm.lastIndexOf('/') + 1),
  };
}
