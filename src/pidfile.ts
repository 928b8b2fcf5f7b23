// Pidfiles as proof, for daemonize() and the CLI alike. A pidfile names a process only when
// the pid it records is alive with the start time recorded beside it (so a reused or unrelated
// pid never counts), in a file that this user or root owns and nobody else can write.
//
// The file: "<pid>\n" (what other tools read), then "posix-fork start=… sid=… boot=…".
// The lock (flock, on the open file description) serialises launches: the launcher takes it
// before anything forks and the daemon inherits it. A Node daemon holds it while it runs; its
// fork() children and everything it execs drop it (close-on-exec), so no child of a dead
// daemon can make it look alive.
import * as fs from 'fs';
import { closeQuietly } from './fds';
import { FORK_SAFE_FLAGS } from './forksafe';
import { native } from './native';
import { Identity, bootId, identify, processesWithFileOpen, readStat, sessionMembers } from './proc';
import { sleepMs } from './sleep';

/** What a pidfile records. */
export interface PidRecord {
  pid: number;
  /** The process's start-time token; null in a file that holds a plain number. */
  start: string | null;
  /** The session a detached daemon runs in (stop ends it); null when none was recorded. */
  sid: number | null;
  /** The boot the record was written in (Linux), or null. */
  boot: string | null;
}

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

const RECORD_TAG = 'posix-fork';
const MAX_PID = 0x7fffffff;
/** How long a launcher waits for a launch in progress (the lock held, no live record yet). */
const LOCK_WAIT_MS = 10000;
const { LOCK_EX, LOCK_NB } = native.flockConstants;

// ---- the record ----------------------------------------------------------------------

/** The file's text for `record`. */
export function formatRecord(record: PidRecord): string {
  if (record.start === null) return `${record.pid}\n`;
  let line = `${RECORD_TAG} start=${record.start}`;
  if (record.sid !== null) line += ` sid=${record.sid}`;
  if (record.boot !== null) line += ` boot=${record.boot}`;
  return `${record.pid}\n${line}\n`;
}

/**
 * The record in a pidfile's text, or null when its first line is not a pid (1 to 2^31-1).
 * A second line that is not ours leaves a plain-number record (no identity: no proof).
 */
export function parseRecord(text: string): PidRecord | null {
  const [first, ...rest] = text.split('\n');
  const match = /^\s*(\d{1,10})\s*$/.exec(first);
  if (match === null) return null;
  const pid = Number(match[1]);
  if (pid < 1 || pid > MAX_PID) return null;
  const record: PidRecord = { pid, start: null, sid: null, boot: null };
  const words = rest.join(' ').trim().split(/\s+/);
  if (words[0] !== RECORD_TAG) return record;
  const fields = new Map<string, string>();
  for (const word of words.slice(1)) {
    const equals = word.indexOf('=');
    if (equals > 0) fields.set(word.slice(0, equals), word.slice(equals + 1));
  }
  const start = fields.get('start');
  if (start === undefined || !/^\S+$/.test(start)) return record;
  const sid = fields.has('sid') ? Number(fields.get('sid')) : null;
  return {
    pid,
    start,
    sid: sid !== null && Number.isInteger(sid) && sid >= 1 && sid <= MAX_PID ? sid : null,
    boot: fields.get('boot') ?? null,
  };
}

/** This process's record; `sid` when it is a detached daemon whose session `stop` may end. */
export function recordOfThisProcess(sid: number | null): PidRecord {
  const self = identify(process.pid);
  if (self === null) throw new Error('cannot read this process\'s own start time');
  return { pid: process.pid, start: self.start, sid, boot: bootId() };
}

/** The live process `record` names, or null: same pid, same start time, same boot. */
export function recordedProcess(record: PidRecord): Identity | null {
  if (record.start === null) return null;
  const live = identify(record.pid);
  if (live === null || live.ended || live.start !== record.start) return null;
  if (record.boot !== null && bootId() !== record.boot) return null;
  return live;
}

/**
 * Live members of the recorded session of a daemon that is gone. A session id cannot be
 * reused while any member lives; a live process with that pid started after the daemon
 * leads a new, unrelated session, and then nothing is claimed.
 */
export function survivingMembers(record: PidRecord): Identity[] {
  if (record.sid === null || record.start === null) return [];
  if (record.boot !== null && bootId() !== record.boot) return [];
  const leader = identify(record.sid);
  if (
    leader !== null && !leader.ended && process.platform === 'linux' &&
    Number(leader.start) > Number(record.start)
  ) {
    return [];
  }
  return sessionMembers(record.sid).filter((member) => !member.ended && member.pid !== process.pid);
}

// ---- reading: what a pidfile proves -----------------------------------------------------

/**
 * What `path` proves, without taking its lock and without waiting (a FIFO, socket, device or
 * directory is answered at once). `proof` adds start-stop-daemon's checks for plain pids.
 */
export function inspectPidFile(path: string, proof: PidProof = {}): PidFileVerdict {
  let fd: number;
  try {
    fd = fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { state: 'absent' };
    if (code === 'ELOOP') return { state: 'invalid', reason: `${path} is a symbolic link` };
    if (code === 'ENXIO') return { state: 'invalid', reason: `${path} is not a regular file (a socket)` };
    return { state: 'invalid', reason: `cannot read ${path}: ${(error as Error).message}` };
  }
  try {
    const stat = fs.fstatSync(fd);
    if (!stat.isFile()) return { state: 'invalid', reason: `${path} is not a regular file (${fileKind(stat)})` };
    const record = parseRecord(readContent(fd));
    const distrust = distrustReason(path, stat);
    if (distrust !== null) return { state: 'untrusted', reason: distrust, record };
    if (record === null) {
      const holders = lockHolders(fd, stat);
      return holders.length > 0 && holders.some((h) => h.uid === stat.uid)
        ? { state: 'starting', holders }
        : { state: 'stale', record: null, holders };
    }
    return judgeRecord(record, proof, () => lockHolders(fd, stat));
  } finally {
    fs.closeSync(fd);
  }
}

function judgeRecord(record: PidRecord, proof: PidProof, holders: () => PidFileHolder[]): PidFileVerdict {
  const proofGiven = proof.exec !== undefined || proof.name !== undefined;
  if (record.start === null) {
    const live = identify(record.pid);
    if (live === null || live.ended) return { state: 'stale', record, holders: holders() };
    if (!proofGiven) {
      return {
        state: 'unproven',
        record,
        reason: `pid ${record.pid} is alive, but the pidfile holds a plain number (written by ` +
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
    try {
      const exe = process.platform === 'linux' ? fs.realpathSync(`/proc/${pid}/exe`) : null;
      if (exe === null || exe !== fs.realpathSync(proof.exec)) return false;
    } catch {
      return false; // another user's process (no permission) or no such file
    }
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
    return `${path} is writable by ${(stat.mode & 0o002) !== 0 ? 'others' : 'its group'} ` +
      `(mode ${(stat.mode & 0o7777).toString(8).padStart(4, '0')})`;
  }
  return null;
}

/** Processes holding `fd`'s file open while its lock is held (empty when it is not held). */
function lockHolders(fd: number, stat: fs.Stats): PidFileHolder[] {
  const locked = process.platform === 'linux' ? lockedPerProcLocks(stat) : !tryShared(fd);
  if (!locked) return [];
  const holders = processesWithFileOpen(stat.dev, stat.ino).filter((h) => h.pid !== process.pid);
  return holders.length > 0 ? holders : [{ pid: 0, uid: -1, comm: '?' }];
}

// /proc/locks answers without taking a lock, which would itself block a launcher.
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
    if (Number(ino) === stat.ino && parseInt(maj, 16) === major && parseInt(min, 16) === minor) {
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
  const flags = fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK;
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
      if (!stat.isFile()) throw pidFileError('ERR_INVALID_PIDFILE', `pidfile ${path} is not a regular file (${fileKind(stat)})`);
      const distrust = distrustReason(path, stat);
      if (distrust !== null) {
        throw pidFileError('ERR_PIDFILE_UNSAFE',
          `refusing the pidfile ${distrust}; remove it if it is stale`);
      }
      if (!native.flock(fd, LOCK_EX | LOCK_NB)) {
        const record = parseRecord(readContent(fd));
        if (record !== null && recordedProcess(record) !== null) throw runningError(path, record.pid);
        const holders = processesWithFileOpen(stat.dev, stat.ino).filter((h) => h.pid !== process.pid);
        const euid = process.geteuid?.() ?? 0;
        if (holders.some((h) => h.uid !== euid) || Date.now() >= deadline) {
          throw pidFileError('ERR_PIDFILE_LOCKED',
            `pidfile ${path} is locked by ${describeHolders(holders)}, not by the daemon it names; ` +
              'stop that process or remove the file');
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
        if (record.start === null && isThisProgram(record.pid)) throw runningError(path, record.pid);
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
  return Object.assign(pidFileError('ERR_DAEMON_RUNNING', `already running (pid ${pid}): pidfile ${path}`), {
    pid,
    pidFile: path,
  });
}

function pidFileError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

function explainOpenError(path: string, error: unknown): unknown {
  const code = (error as NodeJS.ErrnoException).code;
  const why =
    code === 'ELOOP' ? 'is a symbolic link; refusing to follow it'
      : code === 'EISDIR' ? 'is not a regular file (a directory)'
        : code === 'ENXIO' ? 'is not a regular file (a socket)'
          : null;
  if (why === null) return error;
  return Object.assign(pidFileError('ERR_INVALID_PIDFILE', `pidfile ${path} ${why}`), { cause: error });
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
  const notFlag = (arg: string): boolean => !FORK_SAFE_FLAGS.includes(arg);
  const script = process.argv[1];
  if (script) return args.slice(1).includes(script);
  const ours = [...process.execArgv, ...process.argv.slice(1)].filter(notFlag);
  return args.slice(1).filter(notFlag).join('\0') === ours.join('\0');
}
