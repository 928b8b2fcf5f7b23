// What a fork child does right after fork(): take its own pid, and route every way of
// ending through _exit(), because Node's own teardown (thread joins, task draining) waits
// forever in a child that does not have the parent's threads.
import { writeSync } from 'fs';
import { inspect } from 'util';
import { forgetAllChildren } from './children';
import { native } from './native';

interface ExitingProcess {
  _exiting?: boolean;
  reallyExit(code: number): never;
}
const proc = process as unknown as NodeJS.Process & ExitingProcess;

let routed = false;

/** Sets up the current process as a fork child. Safe to call again in a grandchild. */
export function becomeChild(): void {
  // Node caches process.pid at start-up; the property is configurable.
  Object.defineProperty(process, 'pid', {
    value: native.getpid(),
    writable: false,
    enumerable: true,
    configurable: true,
  });
  forgetAllChildren();
  if (routed) return; // inherited from a parent that was itself a fork child
  routed = true;
  proc.reallyExit = exitNow;
  process.on('uncaughtException', lastResort);
  native.watchLoopDrain(onLoopDrained);
  if (process.platform === 'darwin') makeStdioPipesBlocking();
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

// On macOS, Node writes to pipes asynchronously; _exit would drop queued output.
function makeStdioPipesBlocking(): void {
  for (const stream of [process.stdout, process.stderr]) {
    const handle = (stream as unknown as { _handle?: { setBlocking?: (on: boolean) => void } })
      ._handle;
    handle?.setBlocking?.(true);
  }
}
