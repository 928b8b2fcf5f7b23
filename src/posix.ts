// Thin typed wrappers over the POSIX calls, named as in C and in Python's os module.
// Arguments are forwarded untouched: the addon checks count, types and ranges before any
// system call and throws TypeError/RangeError; failed calls throw Error{code, errno, syscall}.
import { recordStatus } from './children';
import { WaitRecord, callWithArguments, native } from './native';
import { WaitStatus, waitStatusFrom } from './status';

/** Wait options with the platform's values: WNOHANG, WUNTRACED, WCONTINUED. */
export const constants: Readonly<{ WNOHANG: number; WUNTRACED: number; WCONTINUED: number }> =
  Object.freeze({ ...native.constants });
export const WNOHANG = constants.WNOHANG;
export const WUNTRACED = constants.WUNTRACED;
export const WCONTINUED = constants.WCONTINUED;

/**
 * Where every wait's answer goes (waitpid(), wait(), the reapers): the WaitStatus built from
 * the native record and reported to children.ts, so whoever waits for the child learns it.
 * With `deferReportErrors`, an error thrown by a subscriber is raised on the next tick
 * instead, so that a sweep goes on reaping the other children.
 */
export function reportWait(record: WaitRecord, deferReportErrors = false): WaitStatus {
  const status = waitStatusFrom(record);
  if (!deferReportErrors) {
    recordStatus(status);
    return status;
  }
  try {
    recordStatus(status);
  } catch (error) {
    process.nextTick(() => {
      throw error;
    });
  }
  return status;
}

/**
 * waitpid(2), Python `os.waitpid`. `pid` > 0: that child; -1: any child; 0: any child in the
 * caller's process group; < -1: any child in group -pid. Returns null only with WNOHANG
 * when no child changed state. Retries on EINTR; throws ECHILD when there is no such child.
 */
export function waitpid(pid: number, options?: number): WaitStatus | null {
  const record = Reflect.apply(native.waitpid, undefined, arguments) as WaitRecord | null;
  return record === null ? null : reportWait(record);
}

/** wait(2), Python `os.wait`: blocks until any child ends. Throws ECHILD when there is none. */
export function wait(): WaitStatus {
  return reportWait(callWithArguments(native.wait, arguments));
}

/** getpid(2), Python `os.getpid`. Unlike Node's cached `process.pid`, always the live value. */
export function getpid(): number {
  return callWithArguments(native.getpid, arguments);
}

/** getppid(2), Python `os.getppid`. */
export function getppid(): number {
  return callWithArguments(native.getppid, arguments);
}

/** setsid(2), Python `os.setsid`: new session and process group; EPERM for a group leader. */
export function setsid(): number {
  return callWithArguments(native.setsid, arguments);
}

/** getsid(2), Python `os.getsid`: the session id of `pid` (0: the caller). */
export function getsid(pid?: number): number {
  return callWithArguments(native.getsid, arguments);
}

/** setpgid(2), Python `os.setpgid`: 0 for either argument means the caller. */
export function setpgid(pid: number, pgid: number): void {
  callWithArguments(native.setpgid, arguments);
}

/** getpgid(2), Python `os.getpgid`: the process group of `pid` (0: the caller). */
export function getpgid(pid?: number): number {
  return callWithArguments(native.getpgid, arguments);
}

/** umask(2), Python `os.umask`: sets the file-mode creation mask, returns the previous one. */
export function umask(mask: number): number {
  return callWithArguments(native.umask, arguments);
}

/** dup(2), Python `os.dup`: the copy is close-on-exec, as in Python (PEP 446). */
export function dup(fd: number): number {
  return callWithArguments(native.dup, arguments);
}

/** dup2(2), Python `os.dup2`: `newfd` is inheritable, as Python's default. Returns newfd. */
export function dup2(oldfd: number, newfd: number): number {
  return callWithArguments(native.dup2, arguments);
}

/** pipe(2), Python `os.pipe`: [readEnd, writeEnd], both close-on-exec (PEP 446). */
export function pipe(): [number, number] {
  return callWithArguments(native.pipe, arguments);
}

/**
 * _exit(2), Python `os._exit`: ends the process at once with `code` (0–255): no 'exit'
 * event, no flushing of asynchronous streams, no Node teardown.
 */
// The addon's function itself: a fork child usually calls it first there, and a JS wrapper
// would have to be compiled in every child.
export const _exit: (code?: number) => never = native._exit;
