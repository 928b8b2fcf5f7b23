// What daemonize() needs to know from the moment the library loads: the descriptors the
// program was started with, and the hand-over of a re-executing launcher. The library loads
// this module at once, and the rest of src/daemon/ (index.ts on) only when daemonize() is
// first called: so this module imports nothing else from src/daemon/.
import * as fs from 'fs';
import { fdTarget, openFds } from '../fds';

/** The launcher -> re-executed daemon hand-over (fd numbers are the daemon's). */
export const HANDOVER_ENV = 'POSIX_FORK_DAEMONIZE';
export interface Handover {
  v: 1;
  status: number;
  statusIno: number;
  pidFd: number | null;
  pidFile: string | null;
  waitForReady: boolean;
}

// Descriptors this process was started with, other than Node's own, noted at load time:
// Node marks inherited fds 0-15 close-on-exec at start-up, so that flag cannot tell them
// from descriptors the program opened itself. Taken before any user code runs in most programs.
export const startupFds: Map<number, string> = noteStartupFds();
// Taken at load, so children the program spawns before daemonize() do not see it.
export const handover: Handover | null = takeHandover();

/** What `fd` is open on (device, inode, type), to tell whether it is still the same file. */
export function identityOf(fd: number): string | null {
  try {
    const stat = fs.fstatSync(fd);
    return `${stat.dev}:${stat.ino}:${stat.mode & fs.constants.S_IFMT}`;
  } catch {
    return null;
  }
}

/**
 * Inherited descriptors >= 3 at load time, excluding Node's own: anonymous inodes (epoll,
 * eventfd, timerfd, io_uring) and pipes whose both ends are here (libuv's signal pipes).
 * Without /proc (macOS), pipes are left out, since they cannot be told apart.
 */
function noteStartupFds(): Map<number, string> {
  const noted = new Map<number, string>();
  const fds = openFds().filter((fd) => fd > 2);
  if (process.platform === 'linux') {
    const targets = new Map<number, string>();
    for (const fd of fds) {
      const target = fdTarget(fd); // null for the listing's own descriptor, closed by now
      if (target !== null) targets.set(fd, target);
    }
    const pipeEnds = new Map<string, number>();
    for (const target of targets.values()) {
      if (target.startsWith('pipe:')) pipeEnds.set(target, (pipeEnds.get(target) ?? 0) + 1);
    }
    for (const [fd, target] of targets) {
      if (target.startsWith('anon_inode:')) continue;
      if (target.startsWith('pipe:') && (pipeEnds.get(target) ?? 0) > 1) continue;
      const identity = identityOf(fd);
      if (identity !== null) noted.set(fd, identity);
    }
  } else {
    for (const fd of fds) {
      try {
        const stat = fs.fstatSync(fd);
        const known =
          stat.isFile() ||
          stat.isSocket() ||
          stat.isCharacterDevice() ||
          stat.isDirectory() ||
          stat.isBlockDevice();
        if (!known) continue;
      } catch {
        continue;
      }
      const identity = identityOf(fd);
      if (identity !== null) noted.set(fd, identity);
    }
  }
  return noted;
}

function takeHandover(): Handover | null {
  const raw = process.env[HANDOVER_ENV];
  if (raw === undefined) return null;
  delete process.env[HANDOVER_ENV];
  try {
    const state = JSON.parse(raw) as Handover;
    if (state.v !== 1 || !Number.isInteger(state.status)) return null;
    const stat = fs.fstatSync(state.status);
    // Only the process the launcher exec'd has this very pipe at this number.
    if (!stat.isFIFO() || stat.ino !== state.statusIno) return null;
    if (state.pidFd !== null && !fs.fstatSync(state.pidFd).isFile()) return null;
    return state;
  } catch {
    return null;
  }
}
