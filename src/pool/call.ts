// One call (map, imap, starmap, apply) in the parent: it forks its workers at once, so that the
// function runs on the caller's state at the call, hands them chunks, passes each chunk's
// outcome to its sink, and ends once every worker has been reaped. A worker that dies with
// chunks queued (a signal, process.exit()), an abort or terminate() stops the call: its other
// workers get SIGKILL (a busy worker would not run a SIGTERM listener it inherited).
import { isOwnChild } from '../children';
import { fork } from '../fork';
import { native } from '../native';
import { pipe, waitpid } from '../posix';
import { errnoCode } from '../args';
import { closeQuietly } from '../fds';
import { waitFor } from '../reaper';
import { WaitStatus } from '../status';
import { ownPoolPipe, poolPipe, sendTasks } from './channel';
import { ChunkPlan, Dispatcher, chunkEnd, chunkStart, workerCount } from './schedule';
import { RecordDecoder, Slot, v8 } from './wire';
import { runWorker, warmUpWorkerLoop } from './worker';

export interface CallSpec {
  fn: (...args: unknown[]) => unknown;
  items: readonly unknown[];
  star: boolean;
  plan: ChunkPlan;
  processes: number;
  signal: AbortSignal | null;
}

/** Where a call's outcomes go (the map collector, the imap streams). */
export interface CallSink {
  /** Where the `count` results of `chunk` (its first item: `start`) are to be written. */
  slot(chunk: number, start: number, count: number): Slot;
  /** A chunk came back: its results are in its slot (error null), or one of its items failed. */
  chunk(chunk: number, error: Error | null): void;
  /** Every worker is reaped: null when every chunk came back, else why the call stopped. */
  end(error: Error | null): void;
}

interface Worker {
  pid: number;
  /** The write end of its task pipe; -1 once closed. */
  taskFd: number;
  reaped: boolean;
}

// This process's running calls and the write ends of their task pipes. A fork child inherits
// them from its parent, whose they remain: a process uses only what it made itself, told by
// the fork generation.
const calls = new Set<Call>();
const taskFds = new Set<number>();
let generation = native.forkGeneration();
let exitHookInstalled = false;

function forgetInheritedCalls(): void {
  if (native.forkGeneration() === generation) return;
  generation = native.forkGeneration();
  calls.clear();
  taskFds.clear();
  exitHookInstalled = false;
}

/** What an aborted call rejects with, as Node's own APIs do. */
export function abortError(signal: AbortSignal): Error {
  const error = new Error('The operation was aborted', { cause: signal.reason });
  return Object.assign(error, { name: 'AbortError', code: 'ABORT_ERR' });
}

export class Call {
  readonly plan: ChunkPlan;
  /** Resolves (never rejects) once every worker is reaped. */
  readonly ended: Promise<void>;
  private resolveEnded!: () => void;
  private readonly dispatcher: Dispatcher;
  private readonly workers = new Map<number, Worker>();
  private live = 0;
  private delivered = 0;
  private stopError: Error | null = null;
  private finished = false;
  private readonly onAbort = (): void => this.stop(abortError(this.spec.signal as AbortSignal));

  constructor(
    private readonly spec: CallSpec,
    private readonly sink: CallSink,
  ) {
    this.plan = spec.plan;
    this.dispatcher = new Dispatcher(this.plan);
    this.ended = new Promise((resolve) => (this.resolveEnded = resolve));
  }

  /**
   * Forks the workers. Returns true in a worker whose function returned a Promise (the call
   * then hands the caller's code there a Promise that never settles). Throws when not even
   * one worker could be forked; a later failure stops the call with that error.
   */
  start(): boolean {
    forgetInheritedCalls();
    if (this.plan.count === 0) {
      this.finish();
      return false;
    }
    const results = poolPipe();
    v8(); // loaded here: a module loaded in a worker would be compiled in every worker
    warmUpWorkerLoop();
    const count = workerCount(this.plan, this.spec.processes);
    const parentPid = process.pid;
    for (let k = 0; k < count && this.stopError === null; k++) {
      let pid: number;
      let readFd: number;
      let writeFd: number;
      try {
        [readFd, writeFd] = pipe();
      } catch (error) {
        if (k === 0) throw error;
        this.stop(error as Error);
        break;
      }
      taskFds.add(writeFd);
      // Made before the fork: what the worker closes, so that it runs as little as it can.
      const parentFds = [...taskFds, results.readFd];
      try {
        pid = fork();
      } catch (error) {
        closeQuietly(readFd);
        closeQuietly(writeFd);
        taskFds.delete(writeFd);
        if (k === 0) throw error;
        this.stop(error as Error);
        break;
      }
      if (pid === 0) {
        const { fn, items, star } = this.spec;
        // Built like the warm-up's spec (same properties, same order): V8 sees one shape.
        runWorker({
          fn,
          items,
          star,
          plan: this.plan,
          taskFd: readFd,
          resultFd: results.writeFd,
          parentFds,
          parentPid,
        });
        return true;
      }
      closeQuietly(readFd);
      const worker: Worker = { pid, taskFd: writeFd, reaped: false };
      this.workers.set(pid, worker);
      this.live++;
      if (k === 0) {
        calls.add(this);
        installExitHook();
        this.spec.signal?.addEventListener('abort', this.onAbort, { once: true });
      }
      results.receive(pid, this.decoder(worker));
      waitFor(pid).then(
        (status) => this.onExit(worker, status),
        () => this.onExit(worker, null),
      );
      this.write(worker, this.dispatcher.add(pid));
    }
    if (this.stopError === null) {
      for (const worker of this.workers.values())
        this.write(worker, this.dispatcher.topUp(worker.pid));
    }
    return false;
  }

  /** Stops the call: its workers get SIGKILL; the sink ends with `error` once they are reaped. */
  stop(error: Error): void {
    if (this.stopError !== null || this.finished) return;
    this.stopError = error;
    for (const worker of this.workers.values()) kill(worker);
  }

  private write(worker: Worker, chunks: readonly number[]): void {
    // A worker that is gone (EPIPE) is handled when it is reaped.
    if (chunks.length > 0 && worker.taskFd >= 0) sendTasks(worker.taskFd, chunks);
  }

  /** A worker's records: each is the outcome of the oldest chunk it has queued. */
  private decoder(worker: Worker): RecordDecoder {
    return new RecordDecoder({
      slot: (count) => {
        const chunk = this.dispatcher.queued(worker.pid)[0];
        if (chunk === undefined || this.finished) return { array: [], offset: 0 };
        return this.sink.slot(chunk, chunkStart(this.plan, chunk), count);
      },
      done: (error) => this.onRecord(worker, error),
    });
  }

  private onRecord(worker: Worker, error: Error | null): void {
    if (this.finished) return;
    const next: number[] = [];
    const chunk = this.dispatcher.done(worker.pid, next);
    if (chunk < 0) return;
    if (this.stopError === null) this.write(worker, next);
    this.delivered++;
    this.sink.chunk(chunk, error);
  }

  private onExit(worker: Worker, status: WaitStatus | null): void {
    // Whatever it wrote before it ended is in the pipe now.
    ownPoolPipe()?.drainSync();
    worker.reaped = true;
    ownPoolPipe()?.forget(worker.pid);
    closeTaskFd(worker);
    this.live--;
    const queued = this.dispatcher.remove(worker.pid);
    if (queued.length > 0) this.stop(workerDied(worker.pid, status, this.plan, queued[0]));
    if (this.live === 0) this.finish();
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    calls.delete(this);
    this.spec.signal?.removeEventListener('abort', this.onAbort);
    let error = this.stopError;
    if (error === null && this.delivered < this.plan.count) {
      error = new Error('the pool workers ended before every chunk came back');
    }
    try {
      this.sink.end(error);
    } finally {
      this.resolveEnded();
    }
  }

  /** At the parent's exit: SIGKILL, then a blocking reap. */
  killNow(): void {
    for (const worker of this.workers.values()) {
      if (worker.reaped) continue;
      kill(worker);
      try {
        waitpid(worker.pid, 0);
      } catch (error) {
        if (errnoCode(error) !== 'ECHILD') throw error;
      }
      worker.reaped = true;
      closeTaskFd(worker);
    }
  }
}

/** SIGKILL, unless the worker was reaped already (its pid may be someone else's by now). */
function kill(worker: Worker): void {
  if (worker.reaped || !isOwnChild(worker.pid)) return;
  try {
    process.kill(worker.pid, 'SIGKILL');
  } catch (error) {
    if (errnoCode(error) !== 'ESRCH') throw error;
  }
}

function closeTaskFd(worker: Worker): void {
  if (worker.taskFd < 0) return;
  closeQuietly(worker.taskFd);
  taskFds.delete(worker.taskFd);
  worker.taskFd = -1;
}

/** The error of a worker that ended with chunks still queued; `index` is its chunk's first item. */
function workerDied(pid: number, status: WaitStatus | null, plan: ChunkPlan, chunk: number): Error {
  const first = chunkStart(plan, chunk);
  const last = chunkEnd(plan, chunk) - 1;
  const items = first === last ? `item ${first}` : `items ${first}-${last}`;
  let how: string;
  if (status === null) how = 'was reaped by someone else';
  else if (status.signal !== null || status.signalNumber !== null) {
    how = `was killed by ${status.signal ?? `signal ${String(status.signalNumber)}`}`;
  } else how = `exited with code ${String(status.exitCode)}`;
  const error = new Error(`pool worker ${pid} ${how} while running ${items}`);
  return Object.assign(error, {
    code: 'ERR_POOL_WORKER_DIED',
    pid,
    signal: status?.signal ?? null,
    exitCode: status?.exitCode ?? null,
    index: first,
  });
}

// The parent's end: the workers of calls still running are killed and reaped, so none is left
// behind (a parent that dies without this, by SIGKILL, leaves its workers to find their task
// pipe at end-of-file).
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', atExit);
}

function atExit(): void {
  if (native.forkGeneration() !== generation) return; // inherited from the parent
  for (const call of [...calls]) call.killNow();
}
