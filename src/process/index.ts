// Process: Python's multiprocessing.Process on this library's fork(). The target is an ordinary
// function (a closure) run in a forked child, which sees the parent's state as it was at
// start(). The child sends the target's return value (or error) back through a pipe.
//
// The modules: options.ts checks the arguments; state.ts keeps each child's state and reaps it;
// registry.ts holds this process's children and result pipe (wire.ts is the pipe's format,
// result-pipe.ts its reader and writers); child.ts is what runs in the child; lifecycle.ts
// handles the parent's exit and terminating signals.
import { inspect } from 'util';
import { checkArity, fail, invalidType } from '../args';
import { current, nextIdentity, runChild, setMainProcess, warmUpChildPath } from './child';
import { installExitHook, updateSignalHandlers } from './lifecycle';
import { ProcessOptions, checkProcessOptions, checkTimeout } from './options';
import { children, cleanup, forkForStart, openResultPipe, track } from './registry';
import { ProcessState } from './state';

export type { ProcessOptions } from './options';

const states = new WeakMap<Process, ProcessState>();
const MAIN_PROCESS = Symbol('MainProcess');

function stateOf(self: unknown): ProcessState {
  const state = states.get(self as Process);
  if (state === undefined)
    fail(TypeError, 'ERR_INVALID_THIS', 'Value of "this" must be of type Process');
  return state;
}

/** Python raises AssertionError for misuse; here an Error with a code. */
function misuse(code: string, message: string): never {
  return fail(Error, code, message);
}

/**
 * Python `multiprocessing.Process` with the fork start method, on this library's fork().
 *
 * `new Process({ target, args, name, daemon })`, or subclass it and override `run()`.
 * `start()` forks; the child runs `run()` (by default `target(...args)`) and ends as soon as it
 * returns or its returned Promise settles: exit code 0, or 1 after printing an uncaught error,
 * or `n` from `process.exit(n)`. The parent's own timers and servers do not keep it alive.
 * Linux and macOS (results travel in PIPE_BUF chunks: 4096 bytes on Linux, 512 on macOS);
 * start the parent with `node --single-threaded` (see fork()). Not in worker threads.
 */
export class Process<T = unknown> {
  constructor(options?: ProcessOptions<T>) {
    if ((options as unknown) === MAIN_PROCESS) {
      const main = new ProcessState(this as Process, 'MainProcess', false, [], null, null, []);
      main.started = true;
      main.pid = process.pid;
      states.set(this as Process, main);
      return;
    }
    checkArity(arguments, 0, 1);
    const { target, args, name, daemon } = checkProcessOptions(options);
    const identity = nextIdentity();
    const className = new.target?.name || 'Process';
    states.set(
      this as Process,
      new ProcessState(
        this as Process,
        name ?? `${className}-${identity.join(':')}`,
        daemon ?? current.daemon,
        identity,
        process.pid,
        target,
        args,
      ),
    );
  }

  /** Python `name`. Default `Process-N`; settable at any time. */
  get name(): string {
    return stateOf(this).name;
  }

  set name(value: string) {
    const state = stateOf(this);
    if (typeof value !== 'string') invalidType('name', 'of type string', value);
    state.name = value;
  }

  /**
   * Python `daemon`: a daemonic child is terminated (SIGTERM, SIGKILL after 1 s) when the
   * parent exits, and may not start children of its own. Settable only before start().
   */
  get daemon(): boolean {
    return stateOf(this).daemon;
  }

  set daemon(value: boolean) {
    const state = stateOf(this);
    if (typeof value !== 'boolean') invalidType('daemon', 'of type boolean', value);
    if (state.started) misuse('ERR_PROCESS_ALREADY_STARTED', 'process has already started');
    state.daemon = value;
  }

  /** Python `pid`: the child's pid after start(), else null. */
  get pid(): number | null {
    return stateOf(this).pid;
  }

  /**
   * Python `exitcode`: null while running (or before start()), the exit code, or -N when
   * signal N ended the child. Reading it reaps a finished child.
   */
  get exitCode(): number | null {
    const state = stateOf(this);
    if (state.pid === null) return null;
    if (state.parentPid === process.pid) state.poll(true);
    return state.exitCode;
  }

  /**
   * Not in Python: what the target returned (or its Promise resolved to), copied with
   * v8.serialize (structured-clone rules). Undefined until the child is reaped, or when it sent
   * nothing (killed, process.exit(), an error).
   */
  get result(): T | undefined {
    return stateOf(this).result as T | undefined;
  }

  /**
   * Not in Python: the error the target threw (or its Promise rejected with), rebuilt from its
   * name, message, stack and code; also a result that v8.serialize could not copy. Else null.
   */
  get error(): Error | null {
    return stateOf(this).error;
  }

  /**
   * Python `start()`: reaps finished children (`_cleanup()`), then forks. In the parent it
   * returns at once. In the child it does not return: a synchronous run() ends the child inside
   * start(); when run() returns a Promise, start() throws an Error with code
   * ERR_PROCESS_CHILD_UNWIND to leave the parent's code (the library keeps that error silent
   * when nobody catches it; code that catches every error around start() must rethrow it).
   * Throws when started twice, from a daemonic process, or for an object of another process.
   */
  start(): void {
    checkArity(arguments, 0, 0);
    const state = stateOf(this);
    if (state.started) misuse('ERR_PROCESS_ALREADY_STARTED', 'cannot start a process twice');
    if (state.parentPid !== process.pid) {
      misuse(
        'ERR_NOT_A_CHILD_PROCESS',
        'can only start a process object created by current process',
      );
    }
    if (current.daemon) {
      misuse(
        'ERR_DAEMONIC_PROCESS_CHILDREN',
        'daemonic processes are not allowed to have children',
      );
    }
    cleanup();
    const writeFd = openResultPipe().writeFd;
    warmUpChildPath();
    state.started = true;
    let pid: number;
    try {
      pid = forkForStart();
    } catch (error) {
      state.started = false;
      throw error;
    }
    if (pid === 0) runChild(state, writeFd);
    state.pid = pid;
    track(state, pid);
    // The child has its own copy; Python drops these too (bpo-30775).
    state.target = null;
    state.args = [];
    installExitHook();
    if (state.daemon) updateSignalHandlers();
  }

  /**
   * Python `run()`: the child's work. Calls `target(...args)` and returns its value; override
   * it in a subclass instead of passing `target`. Called directly, it runs in this process.
   */
  run(): unknown {
    checkArity(arguments, 0, 0);
    const state = stateOf(this);
    return state.target === null ? undefined : Reflect.apply(state.target, undefined, state.args);
  }

  /**
   * Python `join(timeout)`, asynchronous: resolves with the exit code once the child is reaped
   * (result/error are set by then), or with null after `timeoutMs` (ms; default: no limit).
   * Does not block the event loop; a pending join keeps the process alive. Misuse and bad
   * arguments reject the Promise (TypeError/RangeError for arguments).
   */
  join(timeoutMs?: number | null): Promise<number | null> {
    try {
      checkArity(arguments, 0, 1);
      const timeout = checkTimeout(timeoutMs);
      const state = joinableState(this);
      return state.join(timeout);
    } catch (error) {
      return Promise.reject(error); // a Promise API reports every failure as a rejection
    }
  }

  /** Python `join(timeout)`, blocking the thread: the exit code, or null after `timeoutMs`. */
  joinSync(timeoutMs?: number | null): number | null {
    checkArity(arguments, 0, 1);
    const timeout = checkTimeout(timeoutMs);
    return joinableState(this).waitSync(timeout);
  }

  /** Python `is_alive()`: false before start() and once the child ended (which reaps it). */
  isAlive(): boolean {
    checkArity(arguments, 0, 0);
    const state = stateOf(this);
    if (state === current) return true;
    if (state.parentPid !== process.pid)
      misuse('ERR_NOT_A_CHILD_PROCESS', 'can only test a child process');
    if (!state.started || state.pid === null) return false;
    return !state.poll(true);
  }

  /** Python `terminate()`: SIGTERM to the child; nothing once it has been reaped. */
  terminate(): void {
    checkArity(arguments, 0, 0);
    signalChild(stateOf(this), 'SIGTERM', 'terminate');
  }

  /** Python `kill()`: SIGKILL to the child; nothing once it has been reaped. */
  kill(): void {
    checkArity(arguments, 0, 0);
    signalChild(stateOf(this), 'SIGKILL', 'kill');
  }

  /** Python's repr: `<Process name='Process-1' pid=123 parent=100 started daemon>`. */
  [inspect.custom](): string {
    const state = stateOf(this);
    const kind =
      state === stateOf(mainProcess) ? '_MainProcess' : this.constructor.name || 'Process';
    const parts = [`${kind} name='${state.name}'`];
    if (state.pid !== null) parts.push(`pid=${state.pid}`);
    if (state.parentPid !== null) parts.push(`parent=${state.parentPid}`);
    if (!state.started) parts.push('initial');
    else if (state.done && state !== current)
      parts.push('stopped', `exitcode=${String(state.exitCode)}`);
    else parts.push('started');
    if (state.daemon) parts.push('daemon');
    return `<${parts.join(' ')}>`;
  }
}

/** The state of a Process that this process started: join() and joinSync() accept no other. */
function joinableState(self: unknown): ProcessState {
  const state = stateOf(self);
  if (state.parentPid !== process.pid)
    misuse('ERR_NOT_A_CHILD_PROCESS', 'can only join a child process');
  if (!state.started) misuse('ERR_PROCESS_NOT_STARTED', 'can only join a started process');
  return state;
}

function signalChild(state: ProcessState, signal: NodeJS.Signals, what: string): void {
  if (!state.started || state.pid === null) {
    misuse('ERR_PROCESS_NOT_STARTED', `can only ${what} a started process`);
  }
  if (state.parentPid !== process.pid)
    misuse('ERR_NOT_A_CHILD_PROCESS', `can only ${what} a child process`);
  state.signal(signal);
}

const mainProcess = new Process(MAIN_PROCESS as unknown as ProcessOptions);
setMainProcess(stateOf(mainProcess));
mainProcess.run(); // no target: nothing runs; compiled here rather than in every child

/**
 * Python `multiprocessing.current_process()`: the Process object of this process — in a child
 * started by Process, that very object; otherwise the `MainProcess` object.
 */
export function currentProcess(): Process {
  checkArity(arguments, 0, 0);
  return current.owner;
}

/**
 * Python `multiprocessing.active_children()`: reaps finished children, then returns the
 * started ones still running.
 */
export function activeChildren(): Process[] {
  checkArity(arguments, 0, 0);
  cleanup();
  return [...children].map((state) => state.owner);
}
