// Pidfiles as proof, for daemonize() and the CLI alike. A pidfile names a process only when
// the pid it records is alive with the start time recorded beside it (so a reused or unrelated
// pid never counts), in a file that this user or root owns and nobody else can write.
//
// What the file holds is record.ts's. The lock (flock, on the open file description)
// serialises launches: the launcher takes it before anything forks and the daemon inherits
// it. A Node daemon holds it while it runs; its fork() children and everything it execs drop
// it (close-on-exec), so no child of a dead daemon can make it look alive.
import * as fs from 'fs';
import { argError } from '../args';
import { closeQuietly } from '../fds';
import { FORK_SAFE_FLAGS } from '../forksafe';
import { native } from '../native';
import {
  Identity,
  commandLine,
  executable,
  flockHeld,
  identify,
  processesWithFileOpen,
  readStat,
} from '../proc';
import { sleepMs } from '../sleep';
import { PidRecord, formatRecord, parseRecord, recordedProcess, survivingMembers } from './record';

export type { PidRecord } from './record';
export { recordOfThisProcess, recordedProcess, survivingMembers } from './record';

/** A pidfile this process holds open and locked. */
export interface HeldPidFile {
  readonly path: string;
  readonly fd: number;
}

/** A process that has a pidfile open (and so may hold its lock). */
export interface PidFileHolder {
  pid: number;
  uid: number;
  comm: string;
}

/** Extra proof for pidfiles that other programs write (nginx, sshd): as start-stop-daemon's. */
export interface PidProof {
  /** The process's executable must be this file. */
  exec?: string;
  /** The process's name (as `ps -o comm` shows it, at most 15 characters) must be this. */
  name?: string;
}

/** What a pidfile proves. */
export type PidFileVerdict =
  | { state: 'absent' }
  | { state: 'invalid'; reason: string }
  | { state: 'untrusted'; reason: string; record: PidRecord | null }
  | { state: 'starting'; holders: PidFileHolder[] }
  | { state: 'running'; record: PidRecord; identity: Identity }
  | { state: 'unproven'; record: PidRecord; reason: string }
  | { state: 'dead'; record: PidRecord; members: Identity[] }
  | { state: 'stale'; record: PidRecord | null; holders: PidFileHolder[] };

/** How long a launcher waits for a launch in progress (the lock held, no live record yet). */
const LOCK_WAIT_MS = 10000;
const { LOCK_EX, LOCK_NB } = native.flockConstants;

// ---- reading: what a pidfile proves -----------------------------------------------------

/**
 * What `path` proves, without taking its lock and without waiting (a FIFO, socket, device or
 * directory is answered at once). `proof` adds start-stop-daemon's checks for plain pids.
 */
export function inspectPidFile(path: string, proof: PidProof = {}): PidFileVerdict {
  let fd: number;
  try {
    fd = fs.openSync(
      path,
      fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK,
    );
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { state: 'absent' };
    if (code === 'ELOOP') return { state: 'invalid', reason: `${path} is a symbolic link` };
    if (code === 'ENXIO')
      return { state: 'invalid', reason: `${path} is not a regular file (a socket)` };
    return { state: 'invalid', reason: `cannot read ${path}: ${(error as Error).message}` };
  }
  try {
    const stat = fs.fstatSync(fd);
    if (!stat.isFile())
      return { state: 'invalid', reason: `${path} is not a regular file (${fileKind(stat)})` };
    const content = readContent(fd);
    const record = parseRecord(content);
    const distrust = distrustReason(path, stat);
    if (distrust !== null) return { state: 'untrusted', reason: distrust, record };
    if (record === null) {
      const holders = lockHolders(fd, stat);
      if (holders.length > 0 && holders.some((h) => h.uid === stat.uid))
        return { state: 'starting', holders };
      // No record and no lock are two looks, not one: between them a launch can write its
      // record and drop the lock (a command the CLI executes runs without it).
      const now = readContent(fd);
      if (now !== content) {
        const written = parseRecord(now);
        if (written !== null) return judgeRecord(written, proof, () => lockHolders(fd, stat));
      }
      return { state: 'stale', record: null, holders };
    }
    return judgeRecord(record, proof, () => lockHolders(fd, stat));
  } finally {
    fs.closeSync(fd);
  }
}

function judgeRecord(
  record: PidRecord,
  proof: PidProof,
  holders: () => PidFileHolder[],
): PidFileVerdict {
  const proofGiven = proof.exec !== undefined || proof.name !== undefined;
  if (record.start === null) {
    const live = identify(record.pid);
    if (live === null || live.ended) return { state: 'stale', record, holders: holders() };
    if (!proofGiven) {
      return {
        state: 'unproven',
        record,
        reason:
          `pid ${record.pid} is alive, but the pidfile holds a plain number (written by ` +
          'another program?), which cannot prove that it is the daemon: pass --exec or --name',
      };
    }
    if (matchesProof(record.pid, proof)) return { state: 'running', record, identity: live };
    return { state: 'stale', record, holders: holders() };
  }
  const live = recordedProcess(record);
  if (live !== null && (!proofGiven || matchesProof(record.pid, proof))) {
    return { state: 'running', record, identity: live };
  }
  const members = survivingMembers(record);
  if (members.length > 0) return { state: 'dead', record, members };
  return { state: 'stale', record, holders: holders() };
}

/** start-stop-daemon's --exec and --name: the live process's executable and name. */
function matchesProof(pid: number, proof: PidProof): boolean {
  if (proof.exec !== undefined) {
    const exe = process.platform === 'linux' ? executable(pid) : null;
    if (exe === null || exe !== realpathOrNull(proof.exec)) return false;
  }
  if (proof.name !== undefined) {
    const comm = process.platform === 'linux' ? readStat(pid)?.comm : undefined;
    if (comm === undefined || comm !== proof.name.slice(0, 15)) return false;
  }
  return true;
}

/** Why a file's content cannot be believed: owned by another user, or writable by others. */
function distrustReason(path: string, stat: fs.Stats): string | null {
  const euid = process.geteuid?.() ?? 0;
  if (stat.uid !== euid && stat.uid !== 0) {
    return `${path} belongs to uid ${stat.uid}, neither this user (${euid}) nor root`;
  }
  if ((stat.mode & 0o022) !== 0) {
    return (
      `${path} is writable by ${(stat.mode & 0o002) !== 0 ? 'others' : 'its group'} ` +
      `(mode ${(stat.mode & 0o7777).toString(8).padStart(4, '0')})`
    );
  }
  return null;
}

/** Processes holding `fd`'s file open while its lock is held (empty when it is not held). */
function lockHolders(fd: number, stat: fs.Stats): PidFileHolder[] {
  const locked = process.platform === 'linux' ? flockHeld(stat.dev, stat.ino) : !tryShared(fd);
  if (!locked) return [];
  const holders = processesWithFileOpen(stat.dev, stat.ino).filter((h) => h.pid !== process.pid);
  return holders.length > 0 ? holders : [{ pid: 0, uid: -1, comm: '?' }];
}

function tryShared(fd: number): boolean {
  const { LOCK_SH, LOCK_UN } = native.flockConstants;
  if (!native.flock(fd, LOCK_SH | LOCK_NB)) return false;
  native.flock(fd, LOCK_UN);
  return true;
}

function fileKind(stat: fs.Stats): string {
  if (stat.isFIFO()) return 'a FIFO';
  if (stat.isSocket()) return 'a socket';
  if (stat.isDirectory()) return 'a directory';
  if (stat.isCharacterDevice() || stat.isBlockDevice()) return 'a device';
  return 'not a file';
}

/** One line naming processes: "pid 12 (sleep, uid 1000), pid 13 (sh, uid 1000)". */
export function describeHolders(holders: readonly PidFileHolder[]): string {
  if (holders.length === 0 || holders[0].pid === 0) return 'a process this user cannot see';
  return holders.map((h) => `pid ${h.pid} (${h.comm}, uid ${h.uid})`).join(', ');
}

// ---- taking a pidfile -----------------------------------------------------------------

/**
 * Opens and locks `path` (created 0644 if missing, never truncated before the lock), so that
 * exactly one of any number of concurrent launchers gets it. Throws ERR_DAEMON_RUNNING when
 * the file names a live daemon (waiting up to 10 s for a launch in progress to write its
 * record), ERR_PIDFILE_LOCKED when a process that is not that daemon holds the lock,
 * ERR_INVALID_PIDFILE for a link or a file that is not regular, ERR_PIDFILE_UNSAFE for a
 * file another user owns or can write. A stale record is replaced.
 */
export function acquirePidFile(path: string): HeldPidFile {
  const flags =
    fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK;
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    let fd: number;
    try {
      fd = fs.openSync(path, flags, 0o644);
    } catch (error) {
      throw explainOpenError(path, error);
    }
    try {
      const stat = fs.fstatSync(fd);
      if (!stat.isFile())
        throw argError(
          Error,
          'ERR_INVALID_PIDFILE',
          `pidfile ${path} is not a regular file (${fileKind(stat)})`,
        );
      const distrust = distrustReason(path, stat);
      if (distrust !== null) {
        throw argError(
          Error,
          'ERR_PIDFILE_UNSAFE',
          `refusing the pidfile ${distrust}; remove it if it is stale`,
        );
      }
      if (!native.flock(fd, LOCK_EX | LOCK_NB)) {
        const record = parseRecord(readContent(fd));
        if (record !== null && recordedProcess(record) !== null)
          throw runningError(path, record.pid);
        const holders = processesWithFileOpen(stat.dev, stat.ino).filter(
          (h) => h.pid !== process.pid,
        );
        const euid = process.geteuid?.() ?? 0;
        if (holders.some((h) => h.uid !== euid) || Date.now() >= deadline) {
          throw argError(
            Error,
            'ERR_PIDFILE_LOCKED',
            `pidfile ${path} is locked by ${describeHolders(holders)}, not by the daemon it names; ` +
              'stop that process or remove the file',
          );
        }
        fs.closeSync(fd);
        sleepMs(20);
        continue;
      }
      if (!namesSameFile(path, stat)) {
        fs.closeSync(fd); // replaced between our open() and flock(): take the new one
        continue;
      }
      const record = parseRecord(readContent(fd));
      if (record !== null && record.pid !== process.pid) {
        // A command exec'd by the CLI runs without the lock: its record is the proof.
        if (recordedProcess(record) !== null) throw runningError(path, record.pid);
        // A plain pid of a live copy of this very program (an older version, another tool).
        if (record.start === null && isThisProgram(record.pid))
          throw runningError(path, record.pid);
      }
      if (stat.size > 0) fs.ftruncateSync(fd, 0);
      return { path, fd };
    } catch (error) {
      closeQuietly(fd);
      throw error;
    }
  }
}

/** Writes `record` into the held file and fsyncs it (the lock keeps readers waiting). */
export function writeRecord(held: HeldPidFile, record: PidRecord): void {
  fs.ftruncateSync(held.fd, 0);
  fs.writeSync(held.fd, formatRecord(record), 0, 'utf8');
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

/** Removes a stale pidfile unless it changed meanwhile (relocked, or another record). */
export function removeStalePidFile(path: string, record: PidRecord | null): boolean {
  const now = inspectPidFile(path);
  if (now.state !== 'stale') return false;
  if (JSON.stringify(now.record) !== JSON.stringify(record)) return false;
  try {
    fs.unlinkSync(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

function runningError(path: string, pid: number): Error {
  return Object.assign(
    argError(Error, 'ERR_DAEMON_RUNNING', `already running (pid ${pid}): pidfile ${path}`),
    {
      pid,
      pidFile: path,
    },
  );
}

function explainOpenError(path: string, error: unknown): unknown {
  const code = (error as NodeJS.ErrnoException).code;
  const why =
    code === 'ELOOP'
      ? 'is a symbolic link; refusing to follow it'
      : code === 'EISDIR'
        ? 'is not a regular file (a directory)'
        : code === 'ENXIO'
          ? 'is not a regular file (a socket)'
          : null;
  if (why === null) return error;
  return Object.assign(argError(Error, 'ERR_INVALID_PIDFILE', `pidfile ${path} ${why}`), {
    cause: error,
  });
}

function namesSameFile(path: string, opened: fs.Stats): boolean {
  try {
    const now = fs.lstatSync(path);
    return now.ino === opened.ino && now.dev === opened.dev;
  } catch {
    return false;
  }
}

function readContent(fd: number): string {
  const buffer = Buffer.alloc(4096);
  const n = fs.readSync(fd, buffer, 0, buffer.length, 0);
  return buffer.toString('utf8', 0, n);
}

/** Alive and running the same program (same executable and main script) as this process. */
function isThisProgram(pid: number): boolean {
  if (process.platform !== 'linux') return false; // without /proc the record alone decides
  const args = commandLine(pid);
  if (args === null || args.length === 0) return false; // gone, a zombie or a kernel thread
  // An executable that cannot be read (another user's process) leaves it to the arguments.
  const exe = executable(pid);
  const nodeExe = realpathOrNull(process.execPath);
  if (exe !== null && nodeExe !== null && exe !== nodeExe) return false;
  const notFlag = (arg: string): boolean => !FORK_SAFE_FLAGS.includes(arg);
  const script = process.argv[1];
  if (script) return args.slice(1).includes(script);
  const ours = [...process.execArgv, ...process.argv.slice(1)].filter(notFlag);
  return args.slice(1).filter(notFlag).join('\0') === ours.join('\0');
}

function realpathOrNull(file: string): string | null {
  try {
    return fs.realpathSync(file);
  } catch {
    return null;
  }
}
