// Process: Python's multiprocessing.Process on this library's fork(). The target is an ordinary
// function (a closure) run in a forked child, which sees the parent's state as it was at
// start(). The child sends the target's return value (or error) back through a pipe.
//
// Parent side: every started, not yet reaped child is in `children` (Python's _children).
// It is reaped by the next start() (_cleanup), by join/joinSync/isAlive/exitCode/
// activeChildren, by anyone else (a Reaper, waitpid) through the children.ts subscription,
// and at the parent's exit, where daemonic children are terminated and the others joined.
import { closeSync, writeSync } from 'fs';
import type { Socket } from 'net';
import { inspect } from 'util';
import { isPlainObject } from './args';
import { onFork } from './child';
import { native } from './native';
import { claimStatus, onChildReaped } from './children';
import { fork } from './fork';
import { lazy } from './lazy';
import { WNOHANG, _exit, pipe, waitpid } from './posix';
import { WaitStatus } from './status';

const net = lazy(() => require('net') as typeof import('net'));
const v8 = lazy(() => require('v8') as typeof import('v8'));

// ---------------------------------------------------------------------------------------
// Public types

export interface ProcessOptions<T = unknown> {
  /**
   * The function the child runs (Python `target`), called with `args`. Its return value, or
   * the value its returned Promise resolves to, becomes `result` in the parent.
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  target?: ((...args: any[]) => T | PromiseLike<T>) | null;
  /** Arguments for `target` (Python `args`), passed as they are: no copying, no serializing. */
  args?: readonly unknown[] | null;
  /** Default `Process-N` (`Process-N:M` in a child of a Process; the subclass name for subclasses). */
  name?: string | null;
  /** Terminate the child when the parent exits (Python `daemon`). Default: the current process's flag. */
  daemon?: boolean | null;
}

// ---------------------------------------------------------------------------------------
// Errors

export function fail(Kind: ErrorConstructor, code: string, message: string): never {
  const error = new Kind(message);
  (error as NodeJS.ErrnoException).code = code;
  throw error;
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return `Received ${String(value)}`;
  if (typeof value === 'function') return `Received function ${value.name || '<anonymous>'}`;
  if (typeof value === 'object') {
    const name = Array.isArray(value) ? 'Array' : (value.constructor?.name ?? 'Object');
    return `Received an instance of ${name || 'Object'}`;
  }
  if (typeof value === 'string') {
    return `Received type string ('${value.length > 28 ? `${value.slice(0, 25)}...` : value}')`;
  }
  if (typeof value === 'symbol') return `Received type symbol (${value.toString()})`;
  return `Received type ${typeof value} (${String(value)})`;
}

export function invalidType(name: string, expected: string, value: unknown): never {
  return fail(TypeError, 'ERR_INVALID_ARG_TYPE',
    `The "${name}" argument must be ${expected}. ${describe(value)}`);
}

export function checkArity(args: IArguments, max: number): void {
  if (args.length > max) {
    fail(TypeError, 'ERR_TOO_MANY_ARGS', `Expected at most ${max} argument(s), received ${args.length}`);
  }
}

/** Python raises AssertionError for misuse; here an Error with a code. */
function misuse(code: string, message: string): never {
  return fail(Error, code, message);
}

const MAX_TIMEOUT_MS = 2147483647;

/** undefined/null/Infinity: no timeout. Otherwise 0 … 2147483647 ms. */
function checkTimeout(value: unknown): number | null {
  if (value === undefined || value === null || value === Infinity) return null;
  if (typeof value !== 'number') invalidType('timeoutMs', 'of type number', value);
  if (!(value >= 0 && value <= MAX_TIMEOUT_MS)) {
    fail(RangeError, 'ERR_OUT_OF_RANGE',
      `The value of "timeoutMs" is out of range. It must be >= 0 && <= ${MAX_TIMEOUT_MS} ` +
        `or Infinity. Received ${String(value)}`);
  }
  return value;
}

export function errnoCode(error: unknown): unknown {
  return typeof error === 'object' && error !== null
    ? (error as NodeJS.ErrnoException).code
    : undefined;
}

export function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // Already closed: nothing to release.
  }
}

// ---------------------------------------------------------------------------------------
// The result pipe: one per parent, shared by all its children. A child sends one record,
// v8.serialize(...) of its result or error, cut into chunks of at most PIPE_BUF bytes, each
// [pid u32][flags u8][length u16][data]. POSIX makes a write of at most PIPE_BUF bytes to a pipe
// atomic, so chunks of children writing at the same time never mix; the pid reassembles them.
// One pipe and one reader for all children: a net.Socket per child cost the parent more than
// the fork itself. src/pool sends its chunk results in the same format, through a pipe of its own.

const KIND_RESULT = 1; // v8.serialize(result)
const KIND_ERROR = 2; // v8.serialize(ErrorRecord)
// Common small results, written without v8.serialize (whose first use costs a child ~0.3 ms).
export const KIND_UNDEFINED = 3;
export const KIND_NULL = 4;
export const KIND_TRUE = 5;
export const KIND_FALSE = 6;
export const KIND_NUMBER = 7; // float64 LE
export const KIND_STRING = 8; // UTF-8
const LAST_CHUNK = 0x80;
const CHUNK_HEADER = 7;
/** PIPE_BUF: 4096 on Linux, 512 on macOS (the POSIX minimum). */
const PIPE_BUF = process.platform === 'linux' ? 4096 : 512;
const CHUNK_DATA = PIPE_BUF - CHUNK_HEADER;

export interface ErrorRecord {
  name: string;
  message: string;
  stack?: string;
  code?: string | number;
}

export interface ResultRecord {
  kind: number;
  payload: Buffer;
}

export function errorRecord(error: unknown): ErrorRecord {
  const record: ErrorRecord = { name: 'Error', message: '' };
  try {
    if (error instanceof Error || (typeof error === 'object' && error !== null && 'message' in error)) {
      const e = error as Error & { code?: unknown };
      record.name = String(e.name ?? 'Error');
      record.message = String(e.message ?? '');
      if (typeof e.stack === 'string') record.stack = e.stack;
      if (typeof e.code === 'string' || typeof e.code === 'number') record.code = e.code;
    } else {
      record.message = typeof error === 'string' ? error : inspect(error);
    }
  } catch (inner) {
    record.message = `the thrown value could not be described (${String(inner)})`;
  }
  return record;
}

export function rebuildError(record: ErrorRecord): Error {
  const error = new Error(record.message);
  Object.defineProperty(error, 'name', {
    value: record.name, writable: true, enumerable: false, configurable: true,
  });
  error.stack = record.stack ?? `${record.name}: ${record.message}`;
  if (record.code !== undefined) (error as NodeJS.ErrnoException).code = String(record.code);
  return error;
}

// A one-chunk record of a small value is built in this buffer, allocated (and its page touched)
// here in the parent: the child writes into it without allocating.
const smallRecord = Buffer.alloc(PIPE_BUF);

/** Builds the one-chunk record of a small result in `smallRecord`; its length, or -1. */
function encodeSmall(value: unknown, pid: number): number {
  let kind: number;
  let length = 0;
  if (value === undefined) kind = KIND_UNDEFINED;
  else if (value === null) kind = KIND_NULL;
  else if (value === true) kind = KIND_TRUE;
  else if (value === false) kind = KIND_FALSE;
  else if (typeof value === 'number') {
    kind = KIND_NUMBER;
    length = smallRecord.writeDoubleLE(value, CHUNK_HEADER) - CHUNK_HEADER;
  } else if (typeof value === 'string' && value.length * 3 <= CHUNK_DATA) {
    kind = KIND_STRING;
    length = smallRecord.write(value, CHUNK_HEADER, 'utf8');
  } else {
    return -1;
  }
  smallRecord.writeUInt32LE(pid, 0);
  smallRecord[4] = kind | LAST_CHUNK;
  smallRecord.writeUInt16LE(length, 5);
  return CHUNK_HEADER + length;
}

export function decodeSmall(kind: number, payload: Buffer): unknown {
  switch (kind) {
    case KIND_NULL: return null;
    case KIND_TRUE: return true;
    case KIND_FALSE: return false;
    case KIND_NUMBER: return payload.readDoubleLE(0);
    case KIND_STRING: return payload.toString('utf8');
    default: return undefined;
  }
}

/** Child side: the result, as a small record or v8.serialize'd. Throws DataCloneError. */
function sendResult(fd: number, value: unknown): void {
  if (fd < 0) return; // the parent's rehearsal (rehearseChildPath)
  const length = encodeSmall(value, process.pid);
  if (length < 0) sendRecord(fd, KIND_RESULT, v8().serialize(value));
  else native.writeAll(fd, smallRecord, length);
}

/** Child side: the whole record, chunk by chunk, each chunk one atomic write(); false on EPIPE. */
export function sendRecord(fd: number, kind: number, payload: Buffer): boolean {
  const out = chunked(kind, payload);
  for (let at = 0; at < out.length; at += PIPE_BUF) {
    const chunk = out.subarray(at, Math.min(at + PIPE_BUF, out.length));
    if (!native.writeAll(fd, chunk, chunk.length)) return false; // EPIPE: nobody wants the result
  }
  return true;
}

function chunked(kind: number, payload: Buffer): Buffer {
  const count = Math.max(1, Math.ceil(payload.length / CHUNK_DATA));
  const out = Buffer.allocUnsafe(payload.length + count * CHUNK_HEADER);
  const pid = process.pid;
  for (let i = 0; i < count; i++) {
    const from = i * CHUNK_DATA;
    const length = Math.min(CHUNK_DATA, payload.length - from);
    const at = i * PIPE_BUF;
    out.writeUInt32LE(pid, at);
    out[at + 4] = kind | (i === count - 1 ? LAST_CHUNK : 0);
    out.writeUInt16LE(length, at + 5);
    payload.copy(out, at + CHUNK_HEADER, from, from + length);
  }
  return out;
}

/** Node's `onread` socket option: reads land in `buffer`, and `callback` gets the byte count. */
export interface ReadInto {
  buffer: Buffer;
  callback(bytes: number): void;
}

/**
 * A pipe that only this process reads, through an unref'd net.Socket that fork children do not
 * read (their copy of the pipe is this process's). With `onread`, Node reads into one buffer
 * instead of a new Buffer per read.
 */
export function parentOnlyPipe(onread?: ReadInto): { readFd: number; writeFd: number; socket: Socket } {
  const [readFd, writeFd] = pipe();
  let socket: Socket;
  try {
    // onread is typed for net.connect() only; the Socket constructor takes it too.
    const options = { fd: readFd, readable: true, writable: false, ...(onread && { onread }) };
    socket = new (net().Socket)(options as ConstructorParameters<typeof Socket>[0]);
  } catch (error) {
    closeQuietly(readFd);
    closeQuietly(writeFd);
    throw error;
  }
  socket.unref();
  native.stopReadingInForkChildren(readFd);
  socket.on('error', () => undefined); // cannot happen while we hold the write end
  return { readFd, writeFd, socket };
}

// One buffer for every synchronous read: each fork makes the parent's written pages copy-on-write.
const readBuffer = Buffer.allocUnsafe(65536);

/**
 * Parent side. A net.Socket (a libuv pipe watch: no threadpool request, so fork() is never
 * refused because of it; unref'd) reads chunks as they come, so a child writing a large result
 * never blocks for long; the same descriptor, non-blocking since libuv opened it, is also read
 * synchronously by joinSync() and when a reaped child's record is still in the pipe.
 */
export class ResultPipe {
  readonly readFd: number;
  readonly writeFd: number;
  private readonly socket: Socket;
  private leftover: Buffer | null = null;
  private readonly partial = new Map<number, Buffer[]>();
  /** Bytes received so far (joinSync keeps its polls short while data flows). */
  received = 0;

  constructor(private readonly deliver: (pid: number, record: ResultRecord) => void) {
    ({ readFd: this.readFd, writeFd: this.writeFd, socket: this.socket } = parentOnlyPipe());
    // Paused mode: data stays in the stream until read(), so synchronous reads keep the order.
    this.socket.on('readable', () => this.pull());
  }

  private pull(): void {
    let data: Buffer | null;
    while ((data = this.socket.read() as Buffer | null) !== null) this.feed(data);
  }

  /**
   * Reads what is in the pipe now, without blocking, and delivers the complete records;
   * stops early once `enough()`.
   */
  drainSync(enough: () => boolean = () => false): void {
    if (this.socket.destroyed) return;
    this.pull();
    while (!enough()) {
      const n = native.readAvailable(this.readFd, readBuffer);
      if (n <= 0) return; // empty (or, never while we hold the write end, closed)
      this.feed(readBuffer.subarray(0, n));
    }
  }

  private feed(data: Buffer): void {
    this.received += data.length;
    const buffer = this.leftover === null ? data : Buffer.concat([this.leftover, data]);
    let at = 0;
    while (buffer.length - at >= CHUNK_HEADER) {
      const length = buffer.readUInt16LE(at + 5);
      if (buffer.length - at < CHUNK_HEADER + length) break;
      const pid = buffer.readUInt32LE(at);
      const flags = buffer[at + 4];
      const piece = Buffer.from(buffer.subarray(at + CHUNK_HEADER, at + CHUNK_HEADER + length));
      at += CHUNK_HEADER + length;
      const earlier = this.partial.get(pid);
      if ((flags & LAST_CHUNK) === 0) {
        if (earlier === undefined) this.partial.set(pid, [piece]);
        else earlier.push(piece);
        continue;
      }
      this.partial.delete(pid);
      const payload = earlier === undefined ? piece : Buffer.concat([...earlier, piece]);
      this.deliver(pid, { kind: flags & ~LAST_CHUNK, payload });
    }
    this.leftover = at < buffer.length ? Buffer.from(buffer.subarray(at)) : null;
  }

  /** A reaped child's unfinished record (it was killed while writing) is dropped. */
  forget(pid: number): void {
    this.partial.delete(pid);
  }
}

// ---------------------------------------------------------------------------------------
// Per-process state, kept outside the public object so subclasses' fields never collide.

interface Joiner {
  resolve(code: number | null): void;
  timer: NodeJS.Timeout | null;
}

const sleepCell = new Int32Array(new SharedArrayBuffer(4));
function sleepMs(ms: number): void {
  Atomics.wait(sleepCell, 0, 0, ms);
}

/** First and longest pause of the safety-net poll of an awaited child (SIGCHLD comes first). */
const FIRST_POLL_DELAY_MS = 8;
const MAX_POLL_DELAY_MS = 200;
/** How long a terminated daemonic child gets to die at the parent's exit before SIGKILL. */
const DAEMON_GRACE_MS = 1000;

class ProcessState {
  target: ((...args: unknown[]) => unknown) | null;
  args: unknown[];
  started = false;
  pid: number | null = null;
  status: WaitStatus | null = null;
  /** Reaped by someone whose status never reached this library (ECHILD, nothing recorded). */
  lost = false;
  /** The child's record, once it arrived through the result pipe. */
  record: ResultRecord | null = null;
  /** Reaped and its record taken: nothing more comes for this child. */
  finished = false;
  result: unknown = undefined;
  error: Error | null = null;
  readonly joiners = new Set<Joiner>();
  pollTimer: NodeJS.Timeout | null = null;

  constructor(
    readonly owner: Process,
    public name: string,
    public daemon: boolean,
    readonly identity: number[],
    /** The pid of the process that created the object (Python `_parent_pid`). */
    readonly parentPid: number | null,
    target: ((...args: unknown[]) => unknown) | null,
    args: unknown[],
  ) {
    this.target = target;
    this.args = args;
  }

  get done(): boolean {
    return this.status !== null || this.lost;
  }

  get exitCode(): number | null {
    const status = this.status;
    if (status === null) return null;
    return status.exitCode ?? -(status.signalNumber as number);
  }

  /**
   * One non-blocking look, waitpid(pid, WNOHANG); true once the child is reaped. `drain` first
   * reads the result pipe: callers that block the loop must, or a child writing a large result
   * would wait for them forever; asynchronous callers leave that to the pipe's socket.
   */
  poll(drain = false): boolean {
    if (this.done) return true;
    if (this.pid === null) return false;
    if (drain) resultPipe?.drainSync(() => this.record !== null);
    let status: WaitStatus | null;
    try {
      status = waitpid(this.pid, WNOHANG);
    } catch (error) {
      if (errnoCode(error) !== 'ECHILD') throw error;
      // Someone else reaped it; its status came (or is kept) through children.ts.
      const kept = claimStatus(this.pid);
      if (kept !== undefined) this.settle(kept);
      else if (!this.done) this.markLost();
      return true;
    }
    if (status !== null) this.settle(status);
    return this.done;
  }

  /** Blocks until reaped, or until `timeoutMs` passed; returns the exit code or null. */
  waitSync(timeoutMs: number | null): number | null {
    const deadline = timeoutMs === null ? Infinity : Date.now() + timeoutMs;
    let delay = 0.05;
    for (;;) {
      const before = resultPipe?.received ?? 0;
      if (this.poll(true)) return this.exitCode;
      if (timeoutMs === null && this.record !== null) {
        // It sent everything and is ending: a blocking wait cannot leave it stuck on the pipe.
        this.waitBlocking();
        if (this.done) return this.exitCode;
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0) return null;
      if ((resultPipe?.received ?? 0) !== before) delay = 0.05; // data flowing: keep up
      sleepMs(Math.min(delay, remaining));
      delay = Math.min(delay * 2, 10);
    }
  }

  private waitBlocking(): void {
    try {
      const status = waitpid(this.pid as number, 0);
      if (status !== null) this.settle(status);
    } catch (error) {
      if (errnoCode(error) !== 'ECHILD') throw error;
      this.poll();
    }
  }

  /**
   * Its record arrived: it is about to exit, and SIGCHLD will tell (a SIGCHLD handled before
   * the record was read has reaped it already, and finish() drained the pipe into here).
   */
  receive(record: ResultRecord): void {
    if (this.finished || this.record !== null) return;
    this.record = record;
  }

  /** The child's final status arrived (our waitpid, or anyone's through children.ts). */
  settle(status: WaitStatus): void {
    if (this.done) return;
    this.status = status;
    this.finish();
  }

  private markLost(): void {
    this.lost = true;
    this.finish();
  }

  private finish(): void {
    // Once the child is gone, everything it wrote is in the pipe, if not read already.
    if (this.record === null) resultPipe?.drainSync(() => this.record !== null);
    this.finished = true;
    if (this.pid !== null) {
      resultPipe?.forget(this.pid);
      byPid.delete(this.pid);
    }
    children.delete(this);
    waiting.delete(this);
    const record = this.record;
    this.record = null;
    if (record !== null) this.decode(record);
    this.stopPolling();
    const code = this.exitCode;
    for (const joiner of this.joiners) {
      if (joiner.timer !== null) clearTimeout(joiner.timer);
      joiner.resolve(code);
    }
    this.joiners.clear();
    if (this.daemon) updateSignalHandlers();
  }

  private decode(record: ResultRecord): void {
    try {
      if (record.kind === KIND_RESULT) this.result = v8().deserialize(record.payload);
      else if (record.kind === KIND_ERROR) this.error = rebuildError(v8().deserialize(record.payload) as ErrorRecord);
      else this.result = decodeSmall(record.kind, record.payload);
    } catch (error) {
      this.error = error instanceof Error ? error : new Error(String(error));
    }
  }

  /** Resolves with the exit code once reaped, or null after `timeoutMs`. */
  join(timeoutMs: number | null): Promise<number | null> {
    watchSigchld(); // before the first look: an exit in between is not missed
    if (this.poll()) return Promise.resolve(this.exitCode);
    if (timeoutMs === 0) return Promise.resolve(null);
    return new Promise((resolve) => {
      const joiner: Joiner = { resolve, timer: null };
      if (timeoutMs !== null) {
        joiner.timer = setTimeout(() => {
          this.joiners.delete(joiner);
          if (this.joiners.size === 0) this.stopPolling();
          resolve(null);
        }, timeoutMs);
      }
      this.joiners.add(joiner);
      waiting.add(this);
      if (this.pollTimer === null) this.schedulePoll(FIRST_POLL_DELAY_MS);
    });
  }

  // SIGCHLD wakes joins at the moment a child becomes a zombie, and a Reaper or waitpid()
  // reaping it first reports through settle(). This timer is the safety net (SIGCHLD set to
  // be ignored by other code, a signal lost) and, being ref'd, what keeps the process alive
  // while a join is pending: Node's signal watchers are unref'd.
  private schedulePoll(delay: number): void {
    this.pollTimer = setTimeout(() => {
      this.pollTimer = null;
      if (this.poll() || this.joiners.size === 0) return;
      this.schedulePoll(Math.min(delay * 2, MAX_POLL_DELAY_MS));
    }, delay);
  }

  private stopPolling(): void {
    waiting.delete(this);
    if (this.pollTimer !== null) clearTimeout(this.pollTimer);
    this.pollTimer = null;
  }

  /** Sends `signal` unless the child is already reaped (its pid may belong to another process). */
  signal(signal: NodeJS.Signals): void {
    if (this.done || this.pid === null) return;
    try {
      process.kill(this.pid, signal);
    } catch (error) {
      if (errnoCode(error) !== 'ESRCH') throw error;
    }
  }

  /** In a fork child: this object belongs to the parent. Drop what the child inherited. */
  abandon(): void {
    this.stopPolling();
    for (const joiner of this.joiners) if (joiner.timer !== null) clearTimeout(joiner.timer);
    this.joiners.clear();
  }
}

// ---------------------------------------------------------------------------------------
// Module state (reset in each fork child)

const states = new WeakMap<Process, ProcessState>();
/** Started, not yet reaped: Python's `_children`. */
const children = new Set<ProcessState>();
const byPid = new Map<number, ProcessState>();
/** Children with a pending join(): SIGCHLD polls them. */
const waiting = new Set<ProcessState>();
/** Python's `_process_counter`. */
let counter = 0;
/** This process's pipe for its children's results, made at the first start(). */
let resultPipe: ResultPipe | null = null;
/** In a Process child: the write end of its parent's result pipe. */
let resultFd: number | null = null;
/** Set during start()'s fork(): the child keeps the pipe's write end to send its record. */
let starting = false;
let exitHookInstalled = false;
let signalHandlersInstalled = false;
let sigchldWatched = false;
/** In a fork child: the parent's children with join timers, until the child's loop runs again. */
let inheritedStates: ProcessState[] = [];
let current: ProcessState;

onChildReaped((status) => byPid.get(status.pid)?.settle(status));
onFork(() => {
  if (!inheritsParentState()) return undefined;
  forgetParentState(true);
  return forgetParentState;
});

function deliverRecord(pid: number, record: ResultRecord): void {
  byPid.get(pid)?.receive(record);
}

function watchSigchld(): void {
  if (sigchldWatched) return;
  sigchldWatched = true;
  process.on('SIGCHLD', onSigchld);
}

function onSigchld(): void {
  for (const state of [...waiting]) state.poll();
}

// Runs in every fork child (a Process child or a plain fork()), inside fork(): the parent's
// children, result pipe, timers and signal handlers are not this process's. fork() already
// stopped the child from reading the parent's result pipe (natively). Join timers left by
// pending joins must go before the child's event loop runs again; a Process child with a
// synchronous run() never returns to the loop, so it skips that work. Everything a child
// touches costs it a copy-on-write page fault: empty collections are left alone.
function inheritsParentState(): boolean {
  return children.size > 0 || resultPipe !== null || signalHandlersInstalled ||
    inheritedStates.length > 0;
}

function forgetParentState(rehearsal = false): void {
  if (rehearsal) return; // in the parent, by the onFork hook: compiled there, kept fresh
  // The pipe's descriptors stay open here (close-on-exec): closing them would cost every child
  // a first-time code path (~0.4 ms), and a Process child writes its record to the write end.
  resultPipe = null;
  if (children.size > 0) {
    // (A grandchild of a synchronous run() also inherits what its parent had not released yet.)
    for (const state of children) inheritedStates.push(state);
    children.clear();
    byPid.clear();
  }
  if (waiting.size > 0) waiting.clear();
  // The SIGCHLD listener stays: it only polls `waiting`, now empty, and its watcher is unref'd.
  // Closing a signal watcher inherited across fork can spin the child's loop forever (libuv
  // waits for signals the parent had caught but not dispatched; they are not in the child).
  if (signalHandlersInstalled) removeSignalHandlers(); // terminate() must find SIGTERM's default
  if (starting) return; // a Process child runs run() now and never returns to the loop
  if (inheritedStates.length > 0) releaseInheritedStates();
}

function releaseInheritedStates(): void {
  const states = inheritedStates;
  inheritedStates = [];
  for (const state of states) state.abandon();
}

const MAIN_PROCESS = Symbol('MainProcess');

function stateOf(self: unknown): ProcessState {
  const state = states.get(self as Process);
  if (state === undefined) fail(TypeError, 'ERR_INVALID_THIS', 'Value of "this" must be of type Process');
  return state;
}

const OPTION_KEYS = new Set(['target', 'args', 'name', 'daemon']);

// ---------------------------------------------------------------------------------------
// The public class

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
    checkArity(arguments, 1);
    if (options !== undefined && !isPlainObject(options)) {
      invalidType('options', 'a plain object', options);
    }
    const opts: ProcessOptions<T> = options ?? {};
    for (const key of Object.keys(opts)) {
      if (!OPTION_KEYS.has(key)) {
        fail(TypeError, 'ERR_INVALID_ARG_VALUE',
          `The "options" argument has an unknown property '${key}' ` +
            '(known: target, args, name, daemon)');
      }
    }
    // Own properties only: nothing on Object.prototype changes what a Process does.
    const own = (key: keyof ProcessOptions<T>) =>
      (Object.prototype.hasOwnProperty.call(opts, key) ? opts[key] : undefined);
    const target = own('target') as ProcessOptions<T>['target'];
    const args = own('args') as ProcessOptions<T>['args'];
    const name = own('name') as ProcessOptions<T>['name'];
    const daemon = own('daemon') as ProcessOptions<T>['daemon'];
    if (target !== undefined && target !== null && typeof target !== 'function') {
      invalidType('options.target', 'of type function', target);
    }
    if (args !== undefined && args !== null && !Array.isArray(args)) {
      invalidType('options.args', 'an instance of Array', args);
    }
    if (name !== undefined && name !== null && typeof name !== 'string') {
      invalidType('options.name', 'of type string', name);
    }
    if (daemon !== undefined && daemon !== null && typeof daemon !== 'boolean') {
      invalidType('options.daemon', 'of type boolean', daemon);
    }
    const identity = [...current.identity, ++counter];
    const className = new.target?.name || 'Process';
    states.set(this as Process, new ProcessState(
      this as Process,
      name ?? `${className}-${identity.join(':')}`,
      daemon ?? current.daemon,
      identity,
      process.pid,
      (target ?? null) as ((...args: unknown[]) => unknown) | null,
      [...(args ?? [])],
    ));
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
    checkArity(arguments, 0);
    const state = stateOf(this);
    if (state.started) misuse('ERR_PROCESS_ALREADY_STARTED', 'cannot start a process twice');
    if (state.parentPid !== process.pid) {
      misuse('ERR_NOT_A_CHILD_PROCESS', 'can only start a process object created by current process');
    }
    if (current.daemon) {
      misuse('ERR_DAEMONIC_PROCESS_CHILDREN', 'daemonic processes are not allowed to have children');
    }
    cleanup();
    resultPipe ??= new ResultPipe(deliverRecord);
    const writeFd = resultPipe.writeFd;
    rehearseChildPath();
    state.started = true;
    let pid: number;
    starting = true;
    try {
      pid = fork();
    } catch (error) {
      state.started = false;
      throw error;
    } finally {
      starting = false;
    }
    if (pid === 0) runChild(state, writeFd);
    state.pid = pid;
    children.add(state);
    byPid.set(pid, state);
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
    checkArity(arguments, 0);
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
      checkArity(arguments, 1);
      const timeout = checkTimeout(timeoutMs);
      const state = stateOf(this);
      if (state.parentPid !== process.pid) misuse('ERR_NOT_A_CHILD_PROCESS', 'can only join a child process');
      if (!state.started) misuse('ERR_PROCESS_NOT_STARTED', 'can only join a started process');
      return state.join(timeout);
    } catch (error) {
      return Promise.reject(error); // a Promise API reports every failure as a rejection
    }
  }

  /** Python `join(timeout)`, blocking the thread: the exit code, or null after `timeoutMs`. */
  joinSync(timeoutMs?: number | null): number | null {
    checkArity(arguments, 1);
    const timeout = checkTimeout(timeoutMs);
    const state = stateOf(this);
    if (state.parentPid !== process.pid) misuse('ERR_NOT_A_CHILD_PROCESS', 'can only join a child process');
    if (!state.started) misuse('ERR_PROCESS_NOT_STARTED', 'can only join a started process');
    return state.waitSync(timeout);
  }

  /** Python `is_alive()`: false before start() and once the child ended (which reaps it). */
  isAlive(): boolean {
    checkArity(arguments, 0);
    const state = stateOf(this);
    if (state === current) return true;
    if (state.parentPid !== process.pid) misuse('ERR_NOT_A_CHILD_PROCESS', 'can only test a child process');
    if (!state.started || state.pid === null) return false;
    return !state.poll(true);
  }

  /** Python `terminate()`: SIGTERM to the child; nothing once it has been reaped. */
  terminate(): void {
    checkArity(arguments, 0);
    signalChild(stateOf(this), 'SIGTERM', 'terminate');
  }

  /** Python `kill()`: SIGKILL to the child; nothing once it has been reaped. */
  kill(): void {
    checkArity(arguments, 0);
    signalChild(stateOf(this), 'SIGKILL', 'kill');
  }

  /** Python's repr: `<Process name='Process-1' pid=123 parent=100 started daemon>`. */
  [inspect.custom](): string {
    const state = stateOf(this);
    const kind = state === mainState() ? '_MainProcess' : this.constructor.name || 'Process';
    const parts = [`${kind} name='${state.name}'`];
    if (state.pid !== null) parts.push(`pid=${state.pid}`);
    if (state.parentPid !== null) parts.push(`parent=${state.parentPid}`);
    if (!state.started) parts.push('initial');
    else if (state.done && state !== current) parts.push('stopped', `exitcode=${String(state.exitCode)}`);
    else parts.push('started');
    if (state.daemon) parts.push('daemon');
    return `<${parts.join(' ')}>`;
  }
}

function signalChild(state: ProcessState, signal: NodeJS.Signals, what: string): void {
  if (!state.started || state.pid === null) {
    misuse('ERR_PROCESS_NOT_STARTED', `can only ${what} a started process`);
  }
  if (state.parentPid !== process.pid) misuse('ERR_NOT_A_CHILD_PROCESS', `can only ${what} a child process`);
  state.signal(signal);
}

const mainProcess = new Process(MAIN_PROCESS as unknown as ProcessOptions);
current = stateOf(mainProcess);
mainProcess.run(); // no target: nothing runs; compiled here rather than in every child
function mainState(): ProcessState {
  return stateOf(mainProcess);
}

/**
 * Python `multiprocessing.current_process()`: the Process object of this process — in a child
 * started by Process, that very object; otherwise the `MainProcess` object.
 */
export function currentProcess(): Process {
  checkArity(arguments, 0);
  return current.owner;
}

/**
 * Python `multiprocessing.active_children()`: reaps finished children, then returns the
 * started ones still running.
 */
export function activeChildren(): Process[] {
  checkArity(arguments, 0);
  cleanup();
  return [...children].map((state) => state.owner);
}

/**
 * Python's `_cleanup()`: reaps every finished child (run by start() and activeChildren()).
 * One waitid() first: while no child has ended, there is nothing to poll one by one.
 */
function cleanup(): void {
  if (children.size === 0 || !native.childExited()) return;
  for (const state of [...children]) state.poll();
}

// ---------------------------------------------------------------------------------------
// The parent's exit: daemonic children terminated, the others joined (Python's
// util._exit_function, run by atexit). SIGTERM/SIGINT: daemonic children terminated, then
// the signal raised again so the parent still ends by it.

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
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

const TERMINATING_SIGNALS: NodeJS.Signals[] = ['SIGTERM', 'SIGINT'];

function onTerminatingSignal(signal: NodeJS.Signals): void {
  // Another listener owns this signal: the process goes on, or ends through 'exit'.
  if (process.listenerCount(signal) > 1) return;
  removeSignalHandlers();
  stopDaemonicChildren();
  process.kill(process.pid, signal); // no listener left: the default action ends us
}

function updateSignalHandlers(): void {
  const needed = [...children].some((state) => state.daemon);
  if (needed && !signalHandlersInstalled) {
    signalHandlersInstalled = true;
    for (const signal of TERMINATING_SIGNALS) process.on(signal, onTerminatingSignal);
  } else if (!needed) {
    removeSignalHandlers();
  }
}

function removeSignalHandlers(): void {
  if (!signalHandlersInstalled) return;
  signalHandlersInstalled = false;
  for (const signal of TERMINATING_SIGNALS) process.removeListener(signal, onTerminatingSignal);
}

// ---------------------------------------------------------------------------------------
// The child

class ChildUnwind extends Error {
  readonly code = 'ERR_PROCESS_CHILD_UNWIND';
  constructor(name: string) {
    super(`The child of ${name} leaves the parent's code here while its async run() goes on ` +
      '(rethrow errors with code ERR_PROCESS_CHILD_UNWIND)');
    this.name = 'ChildUnwind';
  }
}

// A child pays for every function it runs that its parent never ran: V8 compiles it there,
// and the compile's writes are copy-on-write page faults (together ~0.1-0.3 ms per function,
// more than the fork). So start() first runs the child's path here, in the parent, where every
// step returns at once (at most once a second, which also keeps V8 from flushing that code).
const REHEARSAL = null;

const REHEARSAL_EVENT = 'posix-fork:rehearsal';
const SMALL_RESULTS = [undefined, null, true, 0.5, 'x'];
const noop = (): void => undefined;

/** Once a second is enough to keep V8 from flushing the code (it waits for several GCs). */
const REHEARSAL_EVERY_MS = 1000;
let lastRehearsal = -Infinity;

function rehearseChildPath(): void {
  const now = Date.now();
  if (now - lastRehearsal < REHEARSAL_EVERY_MS) return;
  lastRehearsal = now;
  // The record's encoders, which sendResult() skips for the rehearsal.
  chunked(KIND_RESULT, v8().serialize(undefined));
  for (const value of SMALL_RESULTS) encodeSmall(value, 0);
  runChild(REHEARSAL, -1);
  endChild(REHEARSAL, undefined, false);
  sendResult(-1, REHEARSAL);
  mainProcess.run();
  // The child removes the parent's 'exit' listeners: the same path through Node's emitter.
  process.on(REHEARSAL_EVENT, noop).removeAllListeners(REHEARSAL_EVENT);
}

function runChild(state: ProcessState | typeof REHEARSAL, writeFd: number): never {
  if (state === REHEARSAL) return undefined as never;
  // forgetParentState() already ran (inside fork()); now what is particular to a Process child.
  counter = 0;
  // The parent's 'exit' listeners are its cleanup (a pidfile, a temp dir), not the child's:
  // as Python's child ends with os._exit(), they do not run here. The child's own ones do.
  process.removeAllListeners('exit');
  exitHookInstalled = false;
  if (resultFd !== null) closeQuietly(resultFd); // our parent's pipe, inherited from a Process child
  resultFd = writeFd;
  current = state;
  state.pid = process.pid;

  let value: unknown;
  let thenable = false;
  try {
    value = state.owner.run();
    thenable = (typeof value === 'object' || typeof value === 'function') && value !== null &&
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

function endChild(state: ProcessState | typeof REHEARSAL, value: unknown, failed: boolean): never {
  if (state === REHEARSAL) return undefined as never;
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

function reportChildError(state: ProcessState, error: unknown): void {
  const text = error instanceof Error ? inspect(error) : `Uncaught ${inspect(error)}`;
  try {
    writeSync(2, `Process ${state.name}:\n${text}\n`);
  } catch {
    // stderr is gone; the exit status still tells.
  }
}
