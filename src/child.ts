// What a fork child does right after fork(): take its own pid, and route every way of
// ending through _exit(), because Node's own teardown (thread joins, task draining) waits
// forever in a child that does not have the parent's threads.
import { ChildProcess } from 'child_process';
import { writeSync } from 'fs';
import { inspect } from 'util';
import { setFlagsFromString } from 'v8';
import { forgetAllChildren } from './children';
import { isForkSafe } from './forksafe';
import { native } from './native';

interface ExitingProcess {
  _exiting?: boolean;
  reallyExit(code: number): never;
}
const proc = process as unknown as NodeJS.Process & ExitingProcess;

let prepared = false;
let routed = false;
let currentPid = process.pid;

/**
 * Runs in the parent before its first fork(): everything that can be done ahead, because each
 * code path a child runs for the first time costs it page faults.
 */
export function prepareChildRuntime(): void {
  if (prepared) return;
  prepared = true;
  // Node caches process.pid at start-up; an accessor lets a child correct it with one write.
  currentPid = process.pid;
  // Created lazily by Node; creating them here once spares every child that work.
  void process.stdout;
  void process.stderr;
  Object.defineProperty(process, 'pid', {
    get: () => currentPid,
    enumerable: true,
    configurable: true,
  });
  native.prepareDrainWatch(onLoopDrained);
}

/**
 * Sets up the current process as a fork child. Safe to call again in a grandchild.
 * `spawnedChildren`: the parent had child_process children running at the fork.
 */
export function becomeChild(spawnedChildren: boolean): void {
  currentPid = native.getpid();
  forgetAllChildren();
  if (spawnedChildren) releaseInheritedChildProcesses();
  if (routed) return; // inherited from a parent that was itself a fork child
  routed = true;
  if (!isForkSafe()) stopBackgroundWork();
  proc.reallyExit = exitNow;
  process.on('uncaughtException', lastResort);
  native.startDrainWatch();
  makeStdioPipesBlocking();
}

// The parent's child_process children are not this process's children: they never report to
// it, and their handles would keep its loop alive forever.
function releaseInheritedChildProcesses(): void {
  const handles = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles();
  for (const handle of handles) {
    if (handle instanceof ChildProcess) handle.unref();
  }
}

// Outside the fork-safe mode the parent's V8 worker threads are missing here, and the first
// task V8 posts to them deadlocks the child. Turning V8's own background work off now avoids
// most of it (not work already in flight at fork time: see the README's figures).
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
  for (const flag of CHILD_V8_FLAGS) setFlagsFromString(flag);
}

function exitNow(code: number): never {
  return native._exit(Number.isInteger(code) ? code & 0xff : 1);
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
    const emit = process.emit.bind(process) as (event: string, ...args: unknown[]) => boolean;
    emit('uncaughtExceptionMonitor', error, 'uncaughtException');
    emit('uncaughtException', error, 'uncaughtException');
  }
}

function currentExitCode(fallback: number): number {
  const code = process.exitCode;
  return typeof code === 'number' ? code : fallback;
}

// Registered first in the child. When it is the only listener, the exception is fatal: do
// what Node does (run 'exit' listeners with code 1, print the error) and end by _exit.
function lastResort(error: unknown): void {
  if (process.listenerCount('uncaughtException') > 1) return;
  if (!proc._exiting) {
    proc._exiting = true;
    process.exitCode = 1;
    try {
      process.emit('exit', 1);
    } catch {
      // As in Node: nothing more can be done once the process is dying.
    }
  }
  const text = error instanceof Error ? inspect(error) : `Uncaught ${inspect(error)}`;
  try {
    writeSync(2, `${text}\n\nNode.js ${process.version}\n`);
  } catch {
    // stderr is gone; the exit status still tells.
  }
  exitNow(currentExitCode(1));
}

// Node writes to a pipe or socket asynchronously once it is full (always on macOS): libuv
// queues the rest, and _exit would drop the queue. Blocking writes leave nothing queued.
// Files are written synchronously and TTYs are already blocking. The O_NONBLOCK flag belongs
// to the open file description, so the parent's writes to the same pipe block too.
function makeStdioPipesBlocking(): void {
  for (const stream of [process.stdout, process.stderr]) {
    if ((stream as { isTTY?: boolean }).isTTY) continue;
    const handle = (stream as unknown as { _handle?: { setBlocking?: (on: boolean) => number } })
      ._handle;
    handle?.setBlocking?.(true);
  }
}
