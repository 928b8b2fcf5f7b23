// Wait-status decoding: the W* macros (the platform's own, through the addon) and the
// WaitStatus object every reaping path returns, built in one place (waitStatusFrom).
import { constants as osConstants } from 'os';
import { WaitRecord, callWithArguments, native } from './native';

export interface WaitStatus {
  /** The child that changed state. */
  pid: number;
  /** The raw status word from waitpid(2). */
  status: number;
  /** Exit code when the child exited, else null. */
  exitCode: number | null;
  /** Name of the signal that killed the child, else null. */
  signal: NodeJS.Signals | null;
  signalNumber: number | null;
  coreDumped: boolean;
  /** True for a WUNTRACED report of a stopped child. */
  stopped: boolean;
  stopSignal: NodeJS.Signals | null;
  /** True for a WCONTINUED report. */
  continued: boolean;
}

const signalNames = new Map<number, NodeJS.Signals>();
for (const [name, value] of Object.entries(osConstants.signals)) {
  if (!signalNames.has(value)) signalNames.set(value, name as NodeJS.Signals);
}

/** The name of a signal number ('SIGTERM' for 15), or null when the platform has none. */
export function signalName(signalNumber: number): NodeJS.Signals | null {
  return signalNames.get(signalNumber) ?? null;
}

/** The WaitStatus of a native wait record ([pid, status, …decoded fields]). */
export function waitStatusFrom(record: WaitRecord): WaitStatus {
  const signaled = record[4];
  const stopped = record[7];
  return {
    pid: record[0],
    status: record[1],
    exitCode: record[2] ? record[3] : null,
    signal: signaled ? signalName(record[5]) : null,
    signalNumber: signaled ? record[5] : null,
    coreDumped: signaled && record[6],
    stopped,
    stopSignal: stopped ? signalName(record[8]) : null,
    continued: record[9],
  };
}

/** The WaitStatus of child `pid` from a raw status word kept since it was reaped. */
export function decodeWaitStatus(pid: number, status: number): WaitStatus {
  return waitStatusFrom([pid, status, ...native.decodeStatus(status)]);
}

// WEXITSTATUS, WTERMSIG, WCOREDUMP and WSTOPSIG return the raw bits whatever the predicates
// say, as C's macros and Python's os.W* do: callers check WIFEXITED and the others first.
/** C `WIFEXITED(status)`, Python `os.WIFEXITED`. */
export function WIFEXITED(status: number): boolean {
  return callWithArguments(native.decodeStatus, arguments)[0];
}
/** C `WEXITSTATUS(status)`, Python `os.WEXITSTATUS`. */
export function WEXITSTATUS(status: number): number {
  return callWithArguments(native.decodeStatus, arguments)[1];
}
/** C `WIFSIGNALED(status)`, Python `os.WIFSIGNALED`. */
export function WIFSIGNALED(status: number): boolean {
  return callWithArguments(native.decodeStatus, arguments)[2];
}
/** C `WTERMSIG(status)`, Python `os.WTERMSIG`. */
export function WTERMSIG(status: number): number {
  return callWithArguments(native.decodeStatus, arguments)[3];
}
/** C `WCOREDUMP(status)`, Python `os.WCOREDUMP`. */
export function WCOREDUMP(status: number): boolean {
  return callWithArguments(native.decodeStatus, arguments)[4];
}
/** C `WIFSTOPPED(status)`, Python `os.WIFSTOPPED`. */
export function WIFSTOPPED(status: number): boolean {
  return callWithArguments(native.decodeStatus, arguments)[5];
}
/** C `WSTOPSIG(status)`, Python `os.WSTOPSIG`. */
export function WSTOPSIG(status: number): number {
  return callWithArguments(native.decodeStatus, arguments)[6];
}
/** C `WIFCONTINUED(status)`, Python `os.WIFCONTINUED`. */
export function WIFCONTINUED(status: number): boolean {
  return callWithArguments(native.decodeStatus, arguments)[7];
}

/**
 * Python `os.waitstatus_to_exitcode(status)`: the exit code, or -N for death by signal N.
 * Any other status (stopped, continued) is a RangeError, as Python raises ValueError.
 */
export function waitstatusToExitcode(status: number): number {
  const [exited, exitStatus, signaled, termSig] = callWithArguments(native.decodeStatus, arguments);
  if (exited) return exitStatus;
  if (signaled) return -termSig;
  const error = new RangeError(`invalid wait status: ${status}`);
  (error as NodeJS.ErrnoException).code = 'ERR_OUT_OF_RANGE';
  throw error;
}

/** How a process ended, in words: 'exit code 3', 'signal SIGTERM', 'signal SIGSEGV, core dumped'. */
export function describeEnd(end: {
  exitCode: number | null;
  signal: string | null;
  signalNumber?: number | null;
  coreDumped?: boolean;
}): string {
  if (end.exitCode !== null) return `exit code ${end.exitCode}`;
  const core = end.coreDumped === true ? ', core dumped' : '';
  return `signal ${end.signal ?? end.signalNumber}${core}`;
}
