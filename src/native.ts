// The only module that loads the compiled addon. node-gyp-build picks build/Release when it
// exists, otherwise the prebuilt binary in prebuilds/<platform>-<arch>/.
import * as fs from 'fs';
import * as path from 'path';

/** [exited, exitStatus, signaled, termSig, coreDumped, stopped, stopSig, continued]: the W* macros. */
export type DecodedStatus = [boolean, number, boolean, number, boolean, boolean, number, boolean];
/** What a native wait answers: [pid, status, ...the status decoded by the W* macros]. */
export type WaitRecord = [number, number, ...DecodedStatus];

export interface NativeBinding {
  fork(): number;
  _exit(code?: number): never;
  activeRequestCount(): number;
  memoryScanStats(): {
    fullScans: number;
    mapsReads: number;
    cacheHits: number;
    unknownAreas: number;
  };
  prepareDrainWatch(callback: (phase: 'beforeExit' | 'exit') => void): boolean;
  /** 0 in a process not made by fork(), 1 in its children, 2 in theirs… */
  forkGeneration(): number;
  stopReadingInForkChildren(fd: number): void;
  exitRoutedToExit(reallyExit: (code: number) => never): (code: number) => never;
  /** Whether this copy of the addon was loaded on Node's main thread (not a worker thread). */
  onMainThread: boolean;

  waitpid(pid: number, options?: number): WaitRecord | null;
  wait(): WaitRecord;
  decodeStatus(status: number): DecodedStatus;
  /** Some child has ended and is not reaped yet (waitid WNOWAIT: reaps nothing). */
  childExited(): boolean;
  constants: { WNOHANG: number; WUNTRACED: number; WCONTINUED: number };

  getpid(): number;
  getppid(): number;
  setsid(): number;
  getsid(pid?: number): number;
  setpgid(pid: number, pgid: number): void;
  getpgid(pid?: number): number;
  umask(mask: number): number;
  /** PR_SET_CHILD_SUBREAPER (Linux); ENOSYS elsewhere. */
  setChildSubreaper(on: boolean): void;
  /** PR_SET_PDEATHSIG (Linux): `signal` arrives when the parent exits; false where there is no such setting. */
  setParentDeathSignal(signal: number): boolean;

  dup(fd: number): number;
  dup2(oldfd: number, newfd: number): number;
  pipe(): [number, number];
  /** write(2) until `length` bytes of `buffer` are out (waits while the pipe is full); false on EPIPE. */
  writeAll(fd: number, buffer: Uint8Array, length: number): boolean;
  /** read(2) of what is there now: bytes read, 0 at end of file, -1 when empty (EAGAIN). */
  readAvailable(fd: number, buffer: Uint8Array): number;

  execve(file: string, argv: string[], env: string[]): never;

  // passing descriptors and sharing memory between related processes (prefork's balancing)
  /** A connected pair of Unix sockets (datagram or stream), non-blocking and close-on-exec. */
  socketPair(datagram: boolean): [number, number];
  /** Queues a copy of `fd` on the datagram socket; false when its queue is full. */
  sendFd(socket: number, fd: number): boolean;
  /** The descriptors queued on the datagram socket (close-on-exec), oldest first. */
  receiveFds(socket: number): number[];
  /** An ArrayBuffer over anonymous shared memory: fork children share it, never copy it. */
  sharedMemory(bytes: number): ArrayBuffer;

  // descriptor calls daemonize() and pidfiles use
  /** flock(2); false when LOCK_NB was given and the lock is held elsewhere. */
  flock(fd: number, operation: number): boolean;
  /** poll(2) for input: true once `fd` is readable (data or end of file), false after timeoutMs. */
  waitReadable(fd: number, timeoutMs: number): boolean;
  /** Allocates `bytes` past the end of the file without growing it: ENOSPC shows now. */
  reserveSpace(fd: number, bytes: number): void;
  flockConstants: { LOCK_SH: number; LOCK_EX: number; LOCK_NB: number; LOCK_UN: number };
  /** Whether FD_CLOEXEC is set on fd. */
  closeOnExec(fd: number): boolean;
  /** dup2(source, target) with target's close-on-exec flag set as asked; returns target. */
  replaceFd(source: number, target: number, closeOnExec: boolean): number;
  /** Empties the signal mask; SIG_IGN -> SIG_DFL except keepIgnored; returns the reset signals. */
  resetSignalState(keepIgnored: readonly number[]): number[];
  /**
   * The signals Node ignores itself (SIGPIPE, SIGXFSZ): the one list of what a daemon keeps
   * ignored and a program run in place of Node gets back (spawnDetached reads it too).
   */
  nodeIgnoredSignals: readonly number[];

  // daemon.cc (the native double fork, sd_notify)
  /** One datagram to a unix datagram socket ('@name': abstract), as sd_notify(3). */
  notifySocket(path: string, message: string): void;
  /** Double fork + setsid + signal reset + fd map ([target, source] pairs) + execve; daemon pid. */
  spawnDetached(file: string, argv: string[], env: string[], fdMap: number[]): number;

  /** Starts the SIGCHLD watch (true) or replaces its callback when already on (false). */
  sigchldStart(callback: () => void): boolean;
  /** Stops the SIGCHLD watch; true when it was on. */
  sigchldStop(): boolean;
  /** Whether the SIGCHLD watch keeps the event loop alive (off by default). */
  sigchldKeepAlive(on: boolean): void;
  /** For leak checks: is the watch on, and does it keep the loop alive. */
  sigchldState(): { watching: boolean; keepAlive: boolean };

  // siginfo.cc (who sent a signal)
  /** Records si_code/si_pid of each delivery of `signal` before its handler runs; false when it has no handler. */
  signalInfoWatch(signal: number): boolean;
  /** Puts the handler back; false when it was not wrapped (any more). */
  signalInfoUnwatch(signal: number): boolean;
  /** [si_code, si_pid] of the oldest delivery not taken yet, or null. */
  signalInfoTake(signal: number): [number, number] | null;
  /** si_code values of a signal sent by a process: kill(2), sigqueue(3), tgkill(2) (Linux). */
  signalSenderCodes: { SI_USER: number; SI_QUEUE: number; SI_TKILL?: number };
}

const load = require('node-gyp-build') as (dir: string) => unknown;

// The package root holds binding.gyp: two levels up from dist/src/native.js, one from
// src/native.ts when the sources run directly (as under ts-jest).
const packageRoot = [path.join(__dirname, '..', '..'), path.join(__dirname, '..')].find((dir) =>
  fs.existsSync(path.join(dir, 'binding.gyp')),
);

export const native = load(packageRoot ?? path.join(__dirname, '..', '..')) as NativeBinding;

/**
 * Calls a native function with exactly the arguments the public wrapper received, so the
 * addon's own checks see missing, extra and wrongly typed arguments.
 */
export function callWithArguments<R>(fn: (...args: never[]) => R, args: IArguments): R {
  return Reflect.apply(fn, undefined, args) as R;
}
