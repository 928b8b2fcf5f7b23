// The fork child's runtime: its own pid, and every way of ending routed through _exit(),
// because Node's own teardown (thread joins, task draining) waits forever in a child that does
// not have the parent's threads. Installed in the parent once; it acts only in a child.
//
// A child pays for every code path it runs that its parent never ran: the compile, and the
// page faults of copying what it touches. So what a child must do is decided in the parent
// (childActions()), and in the common case the child runs none of this module's JS at all.
import { writeSync } from 'fs';
import { inspect } from 'util';
import { argError } from './args';
import { isForkSafe } from './forksafe';
import { lazy } from './lazy';
import { native } from './native';

const v8 = lazy(() => require('v8') as typeof import('v8'));

interface ExitingProcess {
  _exiting?: boolean;
  reallyExit(code: number): never;
}
const proc = process as unknown as NodeJS.Process & ExitingProcess;

let prepared = false;
let backgroundWorkStopped = false;
const forkSafe = isForkSafe();

// Runs in the parent before its first fork(). Everything a child needs is installed here,
// once, and acts only in a fork child.
function prepareChildRuntime(): void {
  prepared = true;
  // Created lazily by Node; creating them here once spares every child that work.
  void process.stdout;
  void process.stderr;
  // Node caches process.pid at start-up; the property is configurable.
  Object.defineProperty(process, 'pid', {
    get: native.getpid,
    enumerable: true,
    configurable: true,
  });
  proc.reallyExit = native.exitRoutedToExit(proc.reallyExit) as ExitingProcess['reallyExit'];
  native.prepareDrainWatch(onLoopDrained);
}

// At load, not at the first fork: a first fork may come in an 'exit' listener of a process that
// an uncaught exception ends, and must know that it does.
process.on('uncaughtExceptionMonitor', endOnFatalException);

type ChildAction = () => void;
const forkHooks = new Set<() => ChildAction | undefined>();

/**
 * Registers `prepare`, run in the parent just before each fork(); the function it returns,
 * if any, runs in the child right after. Returns the unregister function.
 */
export function onFork(prepare: () => ChildAction | undefined): () => void {
  forkHooks.add(prepare);
  return () => {
    forkHooks.delete(prepare);
  };
}

/**
 * In the parent, before fork(): prepares the child runtime (at the first fork) and says what
 * the child will have to do right after fork() returns there, or null for nothing. Safe in a
 * grandchild. Each function a parent runs between two forks costs it a page fault (V8 counts
 * calls in the function's feedback, on a page the fork made copy-on-write), so the common case
 * calls none.
 */
export function childActions(): ChildAction[] | null {
  if (!prepared) prepareChildRuntime();
  let actions: ChildAction[] | null = null;
  if (proc._exiting) {
    if (endingOnUncaughtException) refuseForkAtExit();
    (actions ??= []).push(endAfterExitListeners);
  }
  if (!forkSafe && !backgroundWorkStopped) {
    v8(); // loaded here: a module loaded in the child would be compiled in every child
    (actions ??= []).push(stopBackgroundWork);
  }
  if (forkHooks.size !== 0) {
    for (const prepare of forkHooks) {
      const action = prepare();
      if (action !== undefined) (actions ??= []).push(action);
    }
  }
  return actions;
}

// Outside the fork-safe mode the parent's V8 worker threads are missing here, and the first
// task V8 posts to them deadlocks the child. Turning V8's own background work off now avoids
// most of it (not work already in flight at fork time).
const CHILD_V8_FLAGS = [
  '--single-threaded-gc',
  '--no-concurrent-marking',
  '--no-concurrent-sweeping',
  '--no-parallel-scavenge',
  '--no-parallel-marking',
  '--no-parallel-compaction',
  '--no-parallel-pointer-update',
  '--no-concurrent-recompilation',
  '--no-concurrent-sparkplug',
];

function stopBackgroundWork(): void {
  backgroundWorkStopped = true;
  for (const flag of CHILD_V8_FLAGS) v8().setFlagsFromString(flag);
}

function exitNow(code: number): never {
  return native._exit(Number.isInteger(code) ? code & 0xff : 1);
}

// fork() in an 'exit' listener. process.exit() then ends in reallyExit, routed to _exit. After a
// natural end, Node emits 'exit' from its own teardown, which a fork child must never go back
// to (it waits there for threads the child lacks, or crashes): the child ends right after the
// remaining listeners, with the code Node would use. That emit is a callback from Node's
// native side, whose microtasks run as it returns.
function endAfterExitListeners(): void {
  queueMicrotask(() => exitNow(currentExitCode(0)));
}

// After an uncaught exception Node prints it and exits natively once the 'exit' listeners
// return, with no JS turn in between, so a child could not be ended there: refused.
let endingOnUncaughtException = false;

function refuseForkAtExit(): never {
  throw argError(
    Error,
    'ERR_FORK_AT_EXIT',
    "fork() in an 'exit' listener of a process that an uncaught " +
      "exception ends is not supported: Node's own exit path would crash the child",
  );
}

// The loop has nothing left to do: Node would emit 'beforeExit', then 'exit', then tear down.
function onLoopDrained(phase: 'beforeExit' | 'exit'): void {
  try {
    if (phase === 'beforeExit') {
      if (!proc._exiting) process.emit('beforeExit', currentExitCode(0));
    } else {
      process.exit();
    }
  } catch (error) {
    raiseUncaught(error);
  }
}

function currentExitCode(fallback: number): number {
  const code = process.exitCode;
  return typeof code === 'number' ? code : fallback;
}

// An exception thrown where no caller can see it, handled as Node handles uncaught ones.
function raiseUncaught(error: unknown): void {
  const emit = process.emit.bind(process) as (event: string, ...args: unknown[]) => boolean;
  emit('uncaughtExceptionMonitor', error, 'uncaughtException');
  emit('uncaughtException', error, 'uncaughtException'); // the monitor ended us if fatal
}

// Node calls the monitors first for every uncaught exception and unhandled rejection. With no
// 'uncaughtException' listener the exception is fatal, and after the 'exit' event Node's native
// code prints it and exits, a path that hangs or crashes in a fork child. So in a child this
// monitor finishes the job as Node would: the later monitors, 'exit' with code 1, the report.
function endOnFatalException(error: unknown, origin: string): void {
  if (process.listenerCount('uncaughtException') > 0) return;
  if (process.hasUncaughtExceptionCaptureCallback()) return;
  if (native.forkGeneration() === 0) {
    // Not a fork child: Node ends this process itself.
    endingOnUncaughtException = true;
    return;
  }
  const monitors = process.listeners('uncaughtExceptionMonitor');
  for (const monitor of monitors.slice(monitors.indexOf(endOnFatalException) + 1)) {
    try {
      (monitor as (error: unknown, origin: string) => void).call(process, error, origin);
    } catch {
      // As in Node: nothing more can be done once the process is dying.
    }
  }
  if (!proc._exiting) {
    proc._exiting = true;
    process.exitCode = 1;
    try {
      process.emit('exit', 1);
    } catch {
      // Likewise.
    }
  }
  printFatal(error);
  exitNow(currentExitCode(1));
}

/** An uncaught error as Node prints it: an Error with its stack, any other value after "Uncaught". */
export function describeError(error: unknown): string {
  return error instanceof Error ? inspect(error) : `Uncaught ${inspect(error)}`;
}

function printFatal(error: unknown): void {
  try {
    writeSync(2, `${describeError(error)}\n\nNode.js ${process.version}\n`);
  } catch {
    // stderr is gone; the exit status still tells.
  }
}
