// The one reader of process state: /proc/<pid>/stat on Linux, ps(1) on macOS. What a process
// is (pid, parent, group, session, terminal, start time, command line, locks held) is read
// here and nowhere else; this process's own descriptors are fds.ts's.
import { readFileSync, readdirSync, realpathSync, statSync } from 'fs';
import { lazy } from './lazy';

const childProcess = lazy(() => require('child_process') as typeof import('child_process'));

/** One process as /proc/<pid>/stat describes it (Linux). */
export interface ProcStat {
  pid: number;
  /** The name in parentheses (free text: may hold spaces and parentheses). */
  comm: string;
  /** One letter: R, S, D, Z, T, … */
  state: string;
  ppid: number;
  pgid: number;
  sid: number;
  /** The controlling terminal's device number, 0 for none. */
  ttyNr: number;
  /** The foreground process group of that terminal, -1 for none. */
  tpgid: number;
  /** Nice value, -20 … 19. */
  nice: number;
  numThreads: number;
  /** Field 22: clock ticks after boot when the process started; with the pid, its identity. */
  startTime: string;
}

/** Parses the text of /proc/<pid>/stat; null when it is not in that form. */
export function parseStat(pid: number, text: string): ProcStat | null {
  // "pid (comm) state ppid pgrp session tty_nr tpgid flags … nice(19) num_threads(20) …
  // starttime(22) …": fields counts from field 3, the state.
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return null;
  const fields = text
    .slice(close + 2)
    .trim()
    .split(' ');
  if (fields.length < 20) return null;
  return {
    pid,
    comm: text.slice(open + 1, close),
    state: fields[0],
    ppid: Number(fields[1]),
    pgid: Number(fields[2]),
    sid: Number(fields[3]),
    ttyNr: Number(fields[4]),
    tpgid: Number(fields[5]),
    nice: Number(fields[16]),
    numThreads: Number(fields[17]),
    startTime: fields[19],
  };
}

/** /proc/<pid>/stat of a live (or zombie) process, or null when there is none. Linux only. */
export function readStat(pid: number): ProcStat | null {
  // qemu-user answers /proc/self/stat and /proc/<own pid>/stat itself, with a start time of 0;
  // the main thread's task entry is always the kernel's, and says the same.
  const file = pid === process.pid ? `/proc/${pid}/task/${pid}/stat` : `/proc/${pid}/stat`;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ESRCH') return null;
    throw error;
  }
  return parseStat(pid, text);
}

/**
 * A device number (st_dev, st_rdev, tty_nr) as Linux packs it: major in bits 8–19, minor in
 * bits 0–7 and 20–31.
 */
export function deviceNumbers(dev: number): { major: number; minor: number } {
  return { major: Math.floor(dev / 256) & 0xfff, minor: (dev & 0xff) | ((dev >> 12) & 0xfff00) };
}

/** The arguments of `pid` (/proc/<pid>/cmdline), or null when they cannot be read (Linux). */
export function commandLine(pid: number): string[] | null {
  let args: string[];
  try {
    args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return null;
  }
  while (args.length > 0 && args[args.length - 1] === '') args.pop();
  return args;
}

/** The executable `pid` runs, as a real path; null when it cannot be read (Linux). */
export function executable(pid: number): string | null {
  try {
    return realpathSync(`/proc/${pid}/exe`);
  } catch {
    return null; // another user's process, or gone
  }
}

/**
 * Whether some process holds a flock(2) on the file `dev:ino` (Linux, from /proc/locks, which
 * answers without taking a lock).
 */
export function flockHeld(dev: number, ino: number): boolean {
  let text: string;
  try {
    text = readFileSync('/proc/locks', 'utf8');
  } catch {
    return false;
  }
  // "1: FLOCK  ADVISORY  WRITE 1234 fd:00:4711 0 EOF" (major:minor in hex, inode in decimal)
  const { major, minor } = deviceNumbers(dev);
  for (const line of text.split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (fields[1] !== 'FLOCK') continue;
    const [maj, min, inode] = (fields[5] ?? '').split(':');
    if (Number(inode) === ino && parseInt(maj, 16) === major && parseInt(min, 16) === minor)
      return true;
  }
  return false;
}

/** Every pid in /proc (Linux). */
export function listPids(): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (/^\d+$/.test(name)) pids.push(Number(name));
  }
  return pids;
}

/** A running process and what identifies it beyond its number. */
export interface Identity {
  pid: number;
  /** Opaque start-time token: equal for the same process, different after the pid is reused. */
  start: string;
  sid: number;
  pgid: number;
  /** True for a zombie: it has ended, only its parent's wait is missing. */
  ended: boolean;
}

/** The identity of `pid`, or null when no such process exists. */
export function identify(pid: number): Identity | null {
  if (process.platform === 'linux') {
    const stat = readStat(pid);
    return stat === null ? null : identityOf(stat);
  }
  return psIdentities(['-p', String(pid)])[0] ?? null;
}

/** Every process of session `sid` (on macOS: of process group `sid`, see docs/platforms). */
export function sessionMembers(sid: number): Identity[] {
  if (process.platform !== 'linux') return psIdentities(['-A']).filter((p) => p.pgid === sid);
  const members: Identity[] = [];
  for (const pid of listPids()) {
    const stat = readStatQuietly(pid);
    if (stat !== null && stat.sid === sid) members.push(identityOf(stat));
  }
  return members;
}

function identityOf(stat: ProcStat): Identity {
  return {
    pid: stat.pid,
    start: stat.startTime,
    sid: stat.sid,
    pgid: stat.pgid,
    ended: stat.state === 'Z' || stat.state === 'X',
  };
}

/** This boot's identity (Linux), so that a record from before a reboot never matches. */
export function bootId(): string | null {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return null;
  }
}

/** Processes that have `dev:ino` open (those this user may look at; all of them as root). */
export function processesWithFileOpen(
  dev: number,
  ino: number,
): Array<{ pid: number; uid: number; comm: string }> {
  if (process.platform !== 'linux') return [];
  const found: Array<{ pid: number; uid: number; comm: string }> = [];
  for (const pid of listPids()) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const stat = statSync(`/proc/${pid}/fd/${fd}`);
        if (stat.dev !== dev || stat.ino !== ino) continue;
        const owner = statSync(`/proc/${pid}`).uid;
        found.push({ pid, uid: owner, comm: readStatQuietly(pid)?.comm ?? '?' });
        break;
      } catch {
        // closed meanwhile
      }
    }
  }
  return found;
}

function readStatQuietly(pid: number): ProcStat | null {
  try {
    return readStat(pid);
  } catch {
    return null;
  }
}

// macOS: `ps -o pid=,pgid=,stat=,lstart=`; lstart is the start time to the second.
function psIdentities(select: string[]): Identity[] {
  let text: string;
  try {
    text = childProcess().execFileSync('/bin/ps', [...select, '-o', 'pid=,pgid=,stat=,lstart='], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
  } catch {
    return []; // ps exits 1 when no process matches
  }
  const found: Identity[] = [];
  for (const line of text.split('\n')) {
    const match = /^\s*(\d+)\s+(\d+)\s+(\S+)\s+(.+?)\s*$/.exec(line);
    if (match === null) continue;
    const [, pid, pgid, stat, lstart] = match;
    found.push({
      pid: Number(pid),
      start: lstart.replace(/\s+/g, '_'),
      sid: -1,
      pgid: Number(pgid),
      ended: stat.startsWith('Z'),
    });
  }
  return found;
}
