// Per-process state: everything a Process object knows about its child, kept outside the public
// object so that a subclass's fields never collide with it. A child is reaped by the next
// start() (Python's _cleanup), by join/joinSync/isAlive/exitCode/activeChildren, by anyone
// else (a Reaper, waitpid) through the children.ts subscription, and at the parent's exit.
import { errnoCode } from '../args';
import { claimStatus } from '../children';
import { WNOHANG, waitpid } from '../posix';
import { sleepMs } from '../sleep';
import type { WaitStatus } from '../status';
import type { Process } from './index';
import { updateSignalHandlers } from './lifecycle';
import { resultPipe, untrack, waiting, watchSigchld } from './registry';
import {
  ErrorRecord,
  KIND_ERROR,
  KIND_RESULT,
  ResultRecord,
  decodeSmall,
  rebuildError,
  v8,
} from './wire';

/** First and longest pause of the safety-net poll of an awaited child (SIGCHLD comes first). */
const FIRST_POLL_DELAY_MS = 8;
const MAX_POLL_DELAY_MS = 200;
/** First and longest pause of joinSync()'s poll, in ms. */
const FIRST_SLEEP_MS = 0.05;
const MAX_SLEEP_MS = 10;

interface Joiner {
  resolve(code: number | null): void;
  timer: NodeJS.Timeout | null;
}

export class ProcessState {
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
    let delay = FIRST_SLEEP_MS;
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
      if ((resultPipe?.received ?? 0) !== before) delay = FIRST_SLEEP_MS; // data flowing: keep up
      sleepMs(Math.min(delay, remaining));
      delay = Math.min(delay * 2, MAX_SLEEP_MS);
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
    untrack(this);
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
      else if (record.kind === KIND_ERROR)
        this.error = rebuildError(v8().deserialize(record.payload) as ErrorRecord);
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
