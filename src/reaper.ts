// Zombie reaping: the SIGCHLD reaper and the polling reaper (the two cures the seeds teach),
// one non-blocking sweep, waiting for one child, and the Linux child subreaper switch.
//
// Scope. libuv reaps the children of child_process itself, each with waitpid(pid, WNOHANG);
// a pid someone else reaped first is silently dropped and that ChildProcess never emits
// 'exit' (and keeps the event loop alive). So the default scope reaps only the children this
// library forked, each by pid. scope 'all' is the seed's waitpid(-1, WNOHANG) loop: right for
// PID 1, subreapers and teaching, wrong next to child_process.
//
// Every status goes through recordStatus() (src/children.ts), and every Reaper and waitFor()
// listens there, so a status is never lost whichever path reaped the child.
import { EventEmitter } from 'events';
import { checkArity, fail, isPlainObject } from './args';
import {
  claimStatus,
  isOwnChild,
  onChildReaped,
  onForeignChildReaped,
  ownChildren,
  recordStatus,
  untrackChild,
} from './children';
import { onFork } from './child-runtime';
import { forward, native } from './native';
import { WaitStatus, decodeWaitStatus } from './status';

/** Which children a reaper reaps: 'own' (forked by this library) or 'all' (`waitpid(-1)`). */
export type ReapScope = 'own' | 'all';

export interface ReaperOptions {
  /** 'own' (default): only children this library forked. 'all': every child (`waitpid(-1)`). */
  scope?: ReapScope;
  /** Poll every `pollMs` milliseconds instead of watching SIGCHLD (1 … 2147483647). */
  pollMs?: number;
}

export interface ReapOptions {
  /** 'own' (default) or 'all', as for Reaper. */
  scope?: ReapScope;
}

const WNOHANG: number = native.constants.WNOHANG;
/** The largest setInterval delay, and the largest pid_t. */
const MAX_INT32 = 2147483647;

// ---------------------------------------------------------------------------------------
// Argument checks (TypeError/RangeError with Node's codes, before any system call).

function describe(value: unknown): string {
  if (value === null || value === undefined) return `Received ${String(value)}`;
  if (typeof value === 'function') return `Received function ${value.name || '<anonymous>'}`;
  if (typeof value === 'object') {
    const name = Array.isArray(value) ? 'Array' : (value.constructor?.name ?? 'Object');
    return `Received an instance of ${name}`;
  }
  if (typeof value === 'string') {
    return `Received type string ('${value.length > 28 ? `${value.slice(0, 25)}...` : value}')`;
  }
  return `Received type ${typeof value} (${String(value)})`;
}

function checkInteger(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number') {
    fail(TypeError, 'ERR_INVALID_ARG_TYPE',
      `The "${name}" argument must be of type number. ${describe(value)}`);
  }
  if (!Number.isInteger(value) || value < min || value > max) {
    fail(RangeError, 'ERR_OUT_OF_RANGE',
      `The value of "${name}" is out of range. It must be an integer >= ${min} and <= ${max}. ` +
        `Received ${String(value)}`);
  }
  return value;
}

function checkOptions(value: unknown, allowed: readonly string[]): Record<string, unknown> {
  if (value === undefined) return {};
  if (!isPlainObject(value)) {
    fail(TypeError, 'ERR_INVALID_ARG_TYPE',
      `The "options" argument must be a plain object. ${describe(value)}`);
  }
  for (const key of Reflect.ownKeys(value as object)) {
    if (typeof key !== 'string' || !allowed.includes(key)) {
      fail(TypeError, 'ERR_INVALID_ARG_VALUE',
        `The "options" argument has an unknown property ${String(key)}; ` +
          `allowed: ${allowed.join(', ')}`);
    }
  }
  // Own properties only: nothing on Object.prototype changes what a reaper does.
  const own: Record<string, unknown> = Object.create(null);
  for (const key of allowed) {
    if (Object.prototype.hasOwnProperty.call(value, key)) own[key] = (value as Record<string, unknown>)[key];
  }
  return own;
}

function checkScope(value: unknown): ReapScope {
  if (value === undefined) return 'own';
  if (typeof value !== 'string') {
    fail(TypeError, 'ERR_INVALID_ARG_TYPE',
      `The "options.scope" property must be of type string. ${describe(value)}`);
  }
  if (value !== 'own' && value !== 'all') {
    fail(TypeError, 'ERR_INVALID_ARG_VALUE',
      `The "options.scope" property must be 'own' or 'all'. ${describe(value)}`);
  }
  return value;
}

// ---------------------------------------------------------------------------------------
// Reaping: waitpid(…, WNOHANG), every status reported through recordStatus().

/** Marks "no such child" from waitpid (ECHILD), with the error to pass on. */
interface NoChild {
  noChild: NodeJS.ErrnoException;
}

// Reports a status; an exception thrown by a subscriber surfaces as an uncaught exception
// after the sweep instead of stopping it (the remaining zombies still get reaped).
function report(status: WaitStatus): void {
  try {
    recordStatus(status);
  } catch (error) {
    process.nextTick(() => {
      throw error;
    });
  }
}

function reapPid(pid: number): WaitStatus | null | NoChild {
  let raw: [number, number] | null;
  try {
    raw = native.waitpid(pid, WNOHANG);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ECHILD') {
      return { noChild: error as NodeJS.ErrnoException };
    }
    throw error;
  }
  if (raw === null) return null;
  const status = decodeWaitStatus(raw[0], raw[1]);
  report(status);
  return status;
}

let warnedLostChild = false;

// An own child that waitpid says does not exist was reaped by someone who did not report it
// (a second copy of this library, SIGCHLD set to SIG_IGN, libuv): its status is gone.
function loseChild(pid: number, error: NodeJS.ErrnoException): void {
  untrackChild(pid);
  rejectWaiters(pid, error);
  if (warnedLostChild) return;
  warnedLostChild = true;
  process.emitWarning(
    `child ${pid} was reaped outside posix-fork; its exit status is lost`,
    { code: 'POSIX_FORK_STATUS_LOST' },
  );
}

/** One WNOHANG pass over this library's children, each by pid. */
function reapOwn(): WaitStatus[] {
  const reaped: WaitStatus[] = [];
  for (const pid of ownChildren()) {
    if (!isOwnChild(pid)) continue; // reaped meanwhile, e.g. by an 'exit' listener
    const result = reapPid(pid);
    if (result === null) continue;
    if ('noChild' in result) {
      if (isOwnChild(pid)) loseChild(pid, result.noChild);
      continue;
    }
    reaped.push(result);
  }
  return reaped;
}

let warnedStealing = false;

// waitpid(-1) takes child_process children away from libuv; say so once. (A fork child's
// inherited ChildProcess handles are unref'd by fork(), so they are not counted here.)
function warnIfChildProcessesExist(): void {
  if (warnedStealing) return;
  if (!process.getActiveResourcesInfo().includes('ProcessWrap')) return;
  warnedStealing = true;
  process.emitWarning(
    "a scope 'all' reaper (waitpid(-1)) runs while child_process children exist: those it " +
      "reaps never emit 'exit' and keep the event loop alive",
    {
      code: 'POSIX_FORK_REAP_ALL',
      detail: "Use the default scope 'own' next to child_process.",
    },
  );
}

/** The seed's loop: waitpid(-1, WNOHANG) until no child is left to reap. */
function reapAll(): WaitStatus[] {
  warnIfChildProcessesExist();
  const reaped: WaitStatus[] = [];
  for (;;) {
    const result = reapPid(-1);
    if (result === null || 'noChild' in result) return reaped;
    reaped.push(result);
  }
}

function sweep(scope: ReapScope): WaitStatus[] {
  return scope === 'all' ? reapAll() : reapOwn();
}

// ---------------------------------------------------------------------------------------
// waitFor(): promises per pid, settled from recordStatus() whoever reaped.

interface Waiter {
  resolve(status: WaitStatus): void;
  reject(error: Error): void;
}
const waiters = new Map<number, Waiter[]>();

function settleWaiters(status: WaitStatus): void {
  const list = waiters.get(status.pid);
  if (list === undefined) return;
  waiters.delete(status.pid);
  claimStatus(status.pid);
  for (const waiter of list) waiter.resolve(status);
  refreshWatch();
}

function rejectWaiters(pid: number, error: Error): void {
  const list = waiters.get(pid);
  if (list === undefined) return;
  waiters.delete(pid);
  for (const waiter of list) waiter.reject(error);
  refreshWatch();
}

function reapWaited(pid: number): void {
  const result = reapPid(pid);
  if (result === null || !('noChild' in result)) return; // a status settles via recordStatus
  if (isOwnChild(pid)) loseChild(pid, result.noChild);
  else rejectWaiters(pid, result.noChild); // not (or no longer) a child of this process
}

onChildReaped(settleWaiters);
onForeignChildReaped(settleWaiters);

// ---------------------------------------------------------------------------------------
// The SIGCHLD watch, shared by every signal-driven Reaper and every pending waitFor().

const signalReapers = new Set<Reaper>();
let watching = false;
let keepingAlive = false;
let sweepScheduled = false;

function refreshWatch(): void {
  const wanted = signalReapers.size > 0 || waiters.size > 0;
  if (wanted && !watching) {
    native.sigchldStart(onSigchld);
    watching = true;
  } else if (!wanted && watching) {
    native.sigchldStop();
    watching = false;
  }
  // A pending waitFor() keeps the process alive, as a blocking waitpid would.
  const keep = waiters.size > 0;
  if (keep !== keepingAlive) {
    native.sigchldKeepAlive(keep);
    keepingAlive = keep;
  }
}

// One SIGCHLD can stand for many exits, and libuv calls back once per signal delivered:
// collect the calls of one loop turn into one sweep.
function onSigchld(): void {
  if (sweepScheduled) return;
  sweepScheduled = true;
  setImmediate(sweepOnSignal);
}

function sweepOnSignal(): void {
  sweepScheduled = false; // a SIGCHLD from now on schedules another sweep
  let all = false;
  let own = false;
  for (const reaper of signalReapers) {
    if (reaper.scope === 'all') all = true;
    else own = true;
  }
  if (all) reapAll();
  else if (own) reapOwn();
  for (const pid of [...waiters.keys()]) {
    if (waiters.has(pid)) reapWaited(pid);
  }
}

// In a fork child the parent's children are not ours: pending waitFor() promises of the
// parent can never settle here. They are dropped (not rejected, which would surface as
// unhandled rejections in the child) and stop keeping the child's loop alive.
onFork(() => (waiters.size > 0 ? forgetParentsWaiters : undefined));

function forgetParentsWaiters(): void {
  waiters.clear();
  refreshWatch();
}

// ---------------------------------------------------------------------------------------
// Public API.

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
 * A zombie reaper: the seed's SIGCHLD handler looping `waitpid(-1, WNOHANG)` (Python:
 * `signal.signal(SIGCHLD, handler)`), or with `pollMs` the seed's parent polling with
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
    const opts = checkOptions(options, ['scope', 'pollMs']);
    this.scope = checkScope(opts.scope);
    this.pollMs =
      opts.pollMs === undefined ? undefined : checkInteger('options.pollMs', opts.pollMs, 1,
        MAX_INT32);
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
      signalReapers.add(this);
      refreshWatch();
      onSigchld(); // the first sweep, for children that ended before start()
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
    if (signalReapers.delete(this)) refreshWatch();
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
 * One non-blocking sweep, the body of the seed's polling recipe: reaps every child in scope
 * that has ended and returns their statuses (an empty array when none has). Never blocks.
 *
 * `options.scope`: 'own' (default) polls each child this library forked with
 * `waitpid(pid, WNOHANG)`; 'all' loops `waitpid(-1, WNOHANG)` like the seed (Python:
 * `os.waitpid(-1, os.WNOHANG)` until it returns (0, 0) or raises ChildProcessError), which
 * also takes `child_process` children away from Node.
 */
export function reapChildren(options?: ReapOptions): WaitStatus[] {
  checkArity(arguments, 0, 1);
  const scope = checkScope(checkOptions(options, ['scope']).scope);
  return sweep(scope);
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
  const kept = claimStatus(pid);
  if (kept !== undefined) return Promise.resolve(kept);
  return new Promise<WaitStatus>((resolve, reject) => {
    const list = waiters.get(pid);
    if (list !== undefined) {
      list.push({ resolve, reject });
      return;
    }
    waiters.set(pid, [{ resolve, reject }]);
    refreshWatch(); // watching before the first look: an exit in between is not missed
    reapWaited(pid);
  });
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
  forward(native.setChildSubreaper, arguments);
}

/** For leak checks (tests, scripts/stress-reap): is the SIGCHLD watch on, pending waits. */
export function reaperDiagnostics(): {
  watching: boolean;
  keepAlive: boolean;
  signalReapers: number;
  pendingWaits: number;
} {
  const { watching: on, keepAlive } = native.sigchldState();
  return { watching: on, keepAlive, signalReapers: signalReapers.size, pendingWaits: waiters.size };
}
