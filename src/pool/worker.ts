// The worker: a fork child of the call, with the caller's memory as it was at the call. It reads
// chunk numbers from its task pipe, runs the function over those items of the array it already
// has, and sends each chunk's results (or the first error) to the parent. It ends with _exit()
// at STOP, or as soon as it finds its parent gone.
import { constants } from 'os';
import { native } from '../native';
import { _exit } from '../posix';
import { closeQuietly } from '../process';
import { readTask, sendError, sendResults, v8 } from './channel';
import { ChunkPlan, chunkEnd, chunkStart } from './schedule';

export interface WorkerSpec {
  fn: (...args: unknown[]) => unknown;
  items: readonly unknown[];
  /** starmap: fn(...item); else fn(item, index, items). */
  star: boolean;
  plan: ChunkPlan;
  taskFd: number;
  resultFd: number;
  /**
   * Descriptors the parent holds and the worker must not: every task pipe's write end (so that
   * its own task pipe reads end-of-file once the parent is gone) and the result pipe's read end
   * (so that writing a result fails with EPIPE once the parent is gone, instead of blocking on a
   * full pipe).
   */
  parentFds: readonly number[];
  /** The parent's pid, taken before the fork. */
  parentPid: number;
}

const SIGKILL = constants.signals.SIGKILL;

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (typeof value === 'object' || typeof value === 'function') && value !== null &&
    typeof (value as PromiseLike<unknown>).then === 'function';
}

/** A Promise that never settles: what a call returns in a worker whose function is async. */
export const NEVER: Promise<never> = new Promise<never>(() => undefined);

/**
 * Runs in the child, inside the call. With a synchronous function it never returns: the
 * worker ends here. When the function returns a Promise, the worker needs its event loop, so
 * this returns and the call hands NEVER to the caller's code in the worker: its `await`
 * never resumes there while the worker goes on from the loop.
 */
export function runWorker(spec: WorkerSpec): void {
  for (const fd of spec.parentFds) closeQuietly(fd);
  // Linux: SIGKILL when the parent dies, even in the middle of an item. Elsewhere the worker
  // finds out at its next chunk (its task pipe at end-of-file, or EPIPE on the result pipe).
  // A parent that died before the setting took hold has already left it an orphan.
  if (native.setParentDeathSignal(SIGKILL) && native.getppid() !== spec.parentPid) _exit(0);
  const done = work(spec);
  if (done === undefined) _exit(0);
  done.then(() => _exit(0), () => _exit(1));
}

/** Runs chunks until STOP; returns a Promise once a result is a thenable. */
function work(spec: WorkerSpec): Promise<void> | undefined {
  for (;;) {
    const chunk = readTask(spec.taskFd);
    if (chunk < 0) return undefined;
    const start = chunkStart(spec.plan, chunk);
    const end = chunkEnd(spec.plan, chunk);
    const values = new Array<unknown>(end - start);
    let sent = true;
    let i = start;
    for (; i < end; i++) {
      let value: unknown;
      try {
        value = call(spec, i);
      } catch (error) {
        sent = sendError(spec.resultFd, error, i);
        break;
      }
      if (isThenable(value)) {
        return finishChunk(spec, values, start, end, i, value)
          .then((delivered) => (delivered ? workAsync(spec) : undefined));
      }
      values[i - start] = value;
    }
    if (i === end) sent = send(spec, values, start);
    if (!sent) return undefined;
  }
}

function call(spec: WorkerSpec, i: number): unknown {
  const item = spec.items[i];
  return spec.star
    ? Reflect.apply(spec.fn, undefined, [...(item as Iterable<unknown>)])
    : spec.fn(item, i, spec.items);
}

/** The chunk's results, or the error of the first item whose result cannot be copied. */
function send(spec: WorkerSpec, values: unknown[], start: number): boolean {
  try {
    return sendResults(spec.resultFd, values);
  } catch (error) {
    // Serializing each value alone finds the one v8.serialize refused.
    for (let i = 0; i < values.length; i++) {
      try {
        v8().serialize(values[i]);
      } catch (refused) {
        return sendError(spec.resultFd, refused, start + i);
      }
    }
    return sendError(spec.resultFd, error, start);
  }
}

/** The rest of a chunk whose item `at` returned `pending`: every item awaited from now on. */
async function finishChunk(spec: WorkerSpec, values: unknown[], start: number, end: number,
  at: number, pending: PromiseLike<unknown>): Promise<boolean> {
  for (let i = at; i < end; i++) {
    try {
      const value = i === at ? pending : call(spec, i);
      values[i - start] = isThenable(value) ? await value : value;
    } catch (error) {
      return sendError(spec.resultFd, error, i);
    }
  }
  return send(spec, values, start);
}

/** The loop once the function has returned a Promise: chunks until STOP, items awaited. */
async function workAsync(spec: WorkerSpec): Promise<void> {
  for (;;) {
    const chunk = readTask(spec.taskFd);
    if (chunk < 0) return;
    const start = chunkStart(spec.plan, chunk);
    const end = chunkEnd(spec.plan, chunk);
    const values = new Array<unknown>(end - start);
    const first = callSafely(spec, start);
    if (!(await finishChunk(spec, values, start, end, start, first))) return;
  }
}

/** The first item's call, its exception as a rejected Promise. */
function callSafely(spec: WorkerSpec, i: number): PromiseLike<unknown> {
  try {
    return Promise.resolve(call(spec, i));
  } catch (error) {
    return Promise.reject(error);
  }
}
