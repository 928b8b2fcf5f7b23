// The parent's end. At exit, daemonic children are terminated and the others joined (Python's
// util._exit_function, run by atexit). On SIGTERM/SIGINT that nothing else listens to, daemonic
// children are terminated, then the signal is raised again so that the parent still ends by it.
import { current } from './child';
import { children } from './registry';
import type { ProcessState } from './state';

/** How long a terminated daemonic child gets to die at the parent's exit before SIGKILL. */
const DAEMON_GRACE_MS = 1000;
const TERMINATING_SIGNALS: NodeJS.Signals[] = ['SIGTERM', 'SIGINT'];

/**
 * The Process this process was when it added the exit hook. A Process child removes its
 * parent's 'exit' listeners and becomes another Process, so its first start() adds its own.
 */
let exitHookOwner: ProcessState | null = null;
/** The SIGTERM/SIGINT handlers are installed (while some started child is daemonic). */
export let signalHandlersInstalled = false;

/** Adds the 'exit' listener once (run by every start()). */
export function installExitHook(): void {
  if (exitHookOwner === current) return;
  exitHookOwner = current;
  process.on('exit', atExit);
}

function atExit(): void {
  const active = [...children];
  for (const state of active) if (state.daemon) state.signal('SIGTERM');
  for (const state of active) if (!state.daemon) state.waitSync(null);
  stopDaemonicChildren();
}

function stopDaemonicChildren(): void {
  const daemonic = [...children].filter((state) => state.daemon);
  for (const state of daemonic) state.signal('SIGTERM');
  const deadline = Date.now() + DAEMON_GRACE_MS;
  for (const state of daemonic) state.waitSync(Math.max(0, deadline - Date.now()));
  for (const state of daemonic) {
    if (state.done) continue;
    state.signal('SIGKILL');
    state.waitSync(null);
  }
}

function onTerminatingSignal(signal: NodeJS.Signals): void {
  // Another listener owns this signal: the process goes on, or ends through 'exit'.
  if (process.listenerCount(signal) > 1) return;
  removeSignalHandlers();
  stopDaemonicChildren();
  process.kill(process.pid, signal); // no listener left: the default action ends us
}

/** Installs the signal handlers while some started child is daemonic, removes them after. */
export function updateSignalHandlers(): void {
  const needed = [...children].some((state) => state.daemon);
  if (needed && !signalHandlersInstalled) {
    signalHandlersInstalled = true;
    for (const signal of TERMINATING_SIGNALS) process.on(signal, onTerminatingSignal);
  } else if (!needed) {
    removeSignalHandlers();
  }
}

export function removeSignalHandlers(): void {
  if (!signalHandlersInstalled) return;
  signalHandlersInstalled = false;
  for (const signal of TERMINATING_SIGNALS) process.removeListener(signal, onTerminatingSignal);
}
