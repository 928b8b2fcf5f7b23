// The child side of Process: which Process this process is (`current`), and how a Process
// child runs run(), sends its result or error to the parent, and ends. Also the warm-up of the
// child path, which runs that path in the parent so that the child finds it compiled.
import { writeSync } from 'fs';
import { inspect } from 'util';
import { closeQuietly } from '../fds';
import { _exit } from '../posix';
import { throttledWarmUp } from '../warm-up';
import { inheritedStates, releaseInheritedStates } from './registry';
import { sendRecord, sendResult, warmUpResultEncoders } from './result-pipe';
import type { ProcessState } from './state';
import { KIND_ERROR, errorRecord, v8 } from './wire';

/** The state of the Process this process is: MainProcess's, or in a Process child its own. */
export let current: ProcessState;
/** MainProcess's state (its run() has no target: the warm-up calls it). */
let mainState: ProcessState;
/** Python's `_process_counter`: how many Process objects this process has made. */
let counter = 0;
/** In a Process child: the write end of its parent's result pipe. */
let resultFd: number | null = null;

export function setMainProcess(state: ProcessState): void {
  mainState = state;
  current = state;
}

/** The identity of a new Process: its creator's identity and the next number (Process-1:2). */
export function nextIdentity(): number[] {
  return [...current.identity, ++counter];
}

/** Thrown in a child whose run() returned a Promise, to leave the parent's code. */
class ChildUnwind extends Error {
  readonly code = 'ERR_PROCESS_CHILD_UNWIND';
  constructor(name: string) {
    super(
      `The child of ${name} leaves the parent's code here while its async run() goes on ` +
        '(rethrow errors with code ERR_PROCESS_CHILD_UNWIND)',
    );
    this.name = 'ChildUnwind';
  }
}

// The warm-up of the child path (see warm-up.ts): start() runs the child's path here, in the
// parent, where every step returns at once when given WARM_UP instead of a state.
const WARM_UP = null;

const WARM_UP_EVENT = 'posix-fork:warm-up';
const noop = (): void => undefined;

export const warmUpChildPath = throttledWarmUp(() => {
  warmUpResultEncoders();
  runChild(WARM_UP, -1);
  endChild(WARM_UP, undefined, false);
  mainState.owner.run();
  // The child removes the parent's 'exit' listeners: the same path through Node's emitter.
  process.on(WARM_UP_EVENT, noop).removeAllListeners(WARM_UP_EVENT);
});

/**
 * In the child, right after start()'s fork(): becomes `state`'s process, runs run(), and ends
 * when it returns or its Promise settles. Never returns: an async run() unwinds by a throw.
 */
export function runChild(state: ProcessState | typeof WARM_UP, writeFd: number): never {
  if (state === WARM_UP) return undefined as never;
  // The registry's forgetParentState() already ran (inside fork()); now what is particular to
  // a Process child.
  counter = 0;
  // The parent's 'exit' listeners are its cleanup (a pidfile, a temp dir), not the child's:
  // as Python's child ends with os._exit(), they do not run here. The child's own ones do.
  process.removeAllListeners('exit');
  if (resultFd !== null) closeQuietly(resultFd); // our parent's pipe, inherited from a Process child
  resultFd = writeFd;
  current = state;
  state.pid = process.pid;

  let value: unknown;
  let thenable = false;
  try {
    value = state.owner.run();
    thenable =
      (typeof value === 'object' || typeof value === 'function') &&
      value !== null &&
      typeof (value as PromiseLike<unknown>).then === 'function';
  } catch (error) {
    if (current !== state) throw error; // we are a grandchild leaving its parent's code
    return endChild(state, error, true);
  }
  if (!thenable) return endChild(state, value, false);
  if (inheritedStates.length > 0) releaseInheritedStates();
  // In a grandchild forked by this run(), these handlers are its parent's: they stay quiet.
  Promise.resolve(value).then(
    (resolved) => current === state && endChild(state, resolved, false),
    (error: unknown) => current === state && endChild(state, error, true),
  );
  return leaveParentCode(state);
}

// The async run() needs the event loop, so the parent's stack must unwind: throw, and keep the
// throw silent when it reaches the top (an uncaught exception or unhandled rejection).
function leaveParentCode(state: ProcessState): never {
  if (!process.hasUncaughtExceptionCaptureCallback()) {
    process.setUncaughtExceptionCaptureCallback((error) => {
      process.setUncaughtExceptionCaptureCallback(null);
      if (error instanceof ChildUnwind) return;
      process.nextTick(() => {
        throw error; // a real error: through Node's usual path again, now without us
      });
    });
  }
  throw new ChildUnwind(state.name);
}

/** Sends the result (or the error, `failed`) and ends the child: exit code 0, or 1 on failure. */
function endChild(state: ProcessState | typeof WARM_UP, value: unknown, failed: boolean): never {
  if (state === WARM_UP) return undefined as never;
  let code = 0;
  const fd = resultFd as number; // set in every Process child
  if (failed) {
    code = 1;
    reportChildError(state, value);
    sendRecord(fd, KIND_ERROR, v8().serialize(errorRecord(value)));
  } else {
    try {
      sendResult(fd, value);
    } catch (error) {
      code = 1; // v8.serialize cannot copy it (a function, a symbol…): the child failed to answer
      reportChildError(state, error);
      sendRecord(fd, KIND_ERROR, v8().serialize(errorRecord(error)));
    }
  }
  // What process.exit(code) does, minus Node's internals a child would compile first: the
  // child's own 'exit' listeners run (joining its own children), then _exit.
  const exiting = process as unknown as { _exiting?: boolean };
  try {
    if (!exiting._exiting) {
      exiting._exiting = true;
      process.emit('exit', code);
    }
  } catch (error) {
    code = 1;
    try {
      writeSync(2, `${inspect(error)}\n`);
    } catch {
      // stderr is gone; the exit status still tells.
    }
  }
  return _exit(code);
}

/** Prints an uncaught error of the child as Python does: `Process <name>:` then the error. */
function reportChildError(state: ProcessState, error: unknown): void {
  const text = error instanceof Error ? inspect(error) : `Uncaught ${inspect(error)}`;
  try {
    writeSync(2, `Process ${state.name}:\n${text}\n`);
  } catch {
    // stderr is gone; the exit status still tells.
  }
}
