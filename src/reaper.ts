// Zombie reaping, the public face: the SIGCHLD reaper and the polling reaper (the two classic
// recipes), one non-blocking sweep, waiting for one child, and the Linux child subreaper
// switch. The sweeps and the SIGCHLD watch live in src/reaping.ts.
//
// Scope. libuv reaps the children of child_process itself, each with waitpid(pid, WNOHANG);
// a pid someone else reaped first is silently dropped and that ChildProcess never emits
// 'exit' (and keeps the event loop alive). So the default scope reaps only the children this
// library forked, each by pid. scope 'all' is the classic waitpid(-1, WNOHANG) loop: right
// for PID 1, subreapers and teaching, wrong next to child_process.
import { EventEmitter } from 'events';
import { checkArity, checkInteger } from './args';
import { onChildReaped, onForeignChildReaped } from './children';
import { callWithArguments, native } from './native';
import {
  MAX_INT32,
  ReapOptions,
  ReapScope,
  ReaperOptions,
  readReapOptions,
  readReaperOptions,
} from './reaper-options';
import { addSignalReaper, removeSignalReaper, sweep, waitForChild } from './reaping';
import { WaitStatus } from './status';

export type { ReapOptions, ReapScope, ReaperOptions } from './reaper-options';
export { reaperDiagnostics } from './reaping';

// The typed 'exit' listeners of the class below (the usual EventEmitter typing by merging).
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export interface Reaper {
  on(event: 'exit', listener: (status: WaitStatus) => void): this;
  once(event: 'exit', listener: (status: WaitStatus) => void): this;
  addListener(event: 'exit', listener: (status: WaitStatus) => void): this;
  prependListener(event: 'exit', listener: (status: WaitStatus) => void): this;
  off(event: 'exit', listener: (status: WaitStatus) => void): this;
  removeListener(event: 'exit', listener: (status: WaitStatus) => void): this;
  emit(event: 'exit', status: WaitStatus): boolean;
}

/**
 * A zombie reaper: the classic SIGCHLD handler looping `waitpid(-1, WNOHANG)` (Python:
 * `signal.signal(SIGCHLD, handler)`), or with `pollMs` the classic parent polling with
 * `WNOHANG`. Emits `'exit'` with a {@link WaitStatus} for every child in its scope that ends
 * while it is started, whichever path reaped it (this Reaper, another one, `waitFor()`,
 * `waitpid()`), so several Reapers, `waitFor()` and direct `waitpid()` calls coexist.
 *
 * - `scope: 'own'` (default) reaps only children this library forked, each with
 *   `waitpid(pid, WNOHANG)`, so `child_process` children keep working.
 * - `scope: 'all'` loops `waitpid(-1, WNOHANG)` until nothing is left: for PID 1, subreapers
 *   and teaching. It takes `child_process` children away from Node (warns once, code
 *   POSIX_FORK_REAP_ALL, when any exist).
 * - SIGCHLD is watched with a libuv signal handle, which coexists with libuv's own watcher
 *   (a raw sigaction would replace it). Neither mode keeps the event loop alive.
 * - A fork child inherits started Reapers, as a Python child inherits signal handlers; they
 *   reap the child's own children.
 *
 * Throws TypeError/RangeError for bad options (unknown keys included). Linux and macOS.
 */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class Reaper extends EventEmitter {
  /** Which children this Reaper reaps. */
  readonly scope: ReapScope;
  /** The polling interval, or undefined for the SIGCHLD-driven reaper. */
  readonly pollMs: number | undefined;
  #started = false;
  #timer: NodeJS.Timeout | null = null;
  #unsubscribe: Array<() => void> = [];

  constructor(options?: ReaperOptions) {
    super();
    checkArity(arguments, 0, 1);
    const { scope, pollMs } = readReaperOptions(options);
    this.scope = scope;
    this.pollMs = pollMs;
  }

  /** True between start() and stop(). */
  get started(): boolean {
    return this.#started;
  }

  /**
   * Starts reaping; children that ended before are reaped on the next turn of the event
   * loop (their SIGCHLD is gone). Idempotent. Returns this.
   */
  start(): this {
    checkArity(arguments, 0, 0);
    if (this.#started) return this;
    this.#started = true;
    this.#unsubscribe.push(onChildReaped(this.#emitExit));
    if (this.scope === 'all') this.#unsubscribe.push(onForeignChildReaped(this.#emitExit));
    if (this.pollMs === undefined) {
      addSignalReaper(this);
    } else {
      this.#timer = setInterval(this.#poll, this.pollMs).unref();
      setImmediate(this.#poll);
    }
    // scope 'all' checks for child_process children in that first sweep, not here: the
    // warning is printed on the next tick, and a fork() before then would print it again.
    return this;
  }

  /** Stops reaping: children that end afterwards stay zombies until reaped. Returns this. */
  stop(): this {
    checkArity(arguments, 0, 0);
    if (!this.#started) return this;
    this.#started = false;
    for (const unsubscribe of this.#unsubscribe.splice(0)) unsubscribe();
    if (this.#timer !== null) {
      clearInterval(this.#timer);
      this.#timer = null;
    }
    removeSignalReaper(this);
    return this;
  }

  #poll = (): void => {
    if (this.#started) sweep(this.scope);
  };

  // A throwing 'exit' listener must not stop the reaping of the other children.
  #emitExit = (status: WaitStatus): void => {
    try {
      this.emit('exit', status);
    } catch (error) {
      process.nextTick(() => {
        throw error;
      });
    }
  };
}

/**
 * One non-blocking sweep, the body of the classic polling recipe: reaps every child in scope
 * that has ended and returns their statuses (an empty array when none has). Never blocks.
 *
 * `options.scope`: 'own' (default) polls each child this library forked with
 * `waitpid(pid, WNOHANG)`; 'all' loops `waitpid(-1, WNOHANG)` (Python:
 * `os.waitpid(-1, os.WNOHANG)` until it returns (0, 0) or raises ChildProcessError), which
 * also takes `child_process` children away from Node.
 */
export function reapChildren(options?: ReapOptions): WaitStatus[] {
  checkArity(arguments, 0, 1);
  return sweep(readReapOptions(options));
}

/**
 * The final status of child `pid`, whoever reaps it: Python `os.waitpid(pid, 0)` without
 * blocking the event loop. Works with or without a Reaper running: it watches SIGCHLD itself
 * and keeps the event loop alive until the child ends. For a child of this library that was
 * already reaped (by a Reaper, `reapChildren()`, `waitpid()`), it resolves with the kept
 * status (the last 4096 unclaimed statuses are kept).
 *
 * A pid this library did not fork (an orphan adopted as subreaper) is reaped with
 * `waitpid(pid, WNOHANG)`; do not use it on `child_process` children (Node would never see
 * their exit). Rejects with ECHILD (`waitpid ECHILD (No child processes)`) when `pid` is not
 * a child of this process. Throws TypeError/RangeError for a bad `pid` (an integer ≥ 1).
 * In a fork child, the parent's pending waitFor() promises never settle.
 */
export function waitFor(pid: number): Promise<WaitStatus> {
  checkArity(arguments, 1, 1);
  checkInteger('pid', pid, 1, MAX_INT32);
  return waitForChild(pid);
}

/**
 * Linux `prctl(PR_SET_CHILD_SUBREAPER, on)`: orphaned descendants are re-parented to this
 * process instead of init, so a supervisor (or a test) can reap them, e.g. with a
 * `scope: 'all'` Reaper. No Python counterpart in `os` (python-prctl offers it).
 * `on` must be a boolean (default true). Throws ENOSYS on macOS and other systems.
 */
export function setChildSubreaper(on?: boolean): void {
  if (arguments.length === 0 || (arguments.length === 1 && on === undefined)) {
    native.setChildSubreaper(true);
    return;
  }
  callWithArguments(native.setChildSubreaper, arguments);
}
