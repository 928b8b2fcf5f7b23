// The worker: a fork child of the call, with the caller's memory as it was at the call. It reads
// chunk numbers from its task pipe, runs the function over those items of the array it already
// has, and sends each chunk's results (or the first error) to the parent. It ends with _exit()
// at STOP, or as soon as it finds its parent gone.
import { openSync } from 'fs';
import { constants } from 'os';
import { native } from '../native';
import { _exit, pipe } from '../posix';
import { closeQuietly } from '../fds';
import { throttledWarmUp } from '../warm-up';
import { readTask, sendError, sendResults, sendTasks } from './channel';
import { ChunkPlan, STOP, chunkEnd, chunkStart, planChunks, planGuided } from './schedule';
import { v8 } from './wire';

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
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as PromiseLike<unknown>).then === 'function'
  );
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
  const done = work(spec, pipePorts(spec.taskFd, spec.resultFd));
  if (done === undefined) _exit(0);
  done.then(
    () => _exit(0),
    () => _exit(1),
  );
}

/** Where a worker gets chunks and sends outcomes (the pipes; in the warm-up, nowhere). */
interface Ports {
  /** The next chunk, or -1 for none. */
  next(): number;
  /** values[0…count); false: the parent is gone. Throws DataCloneError for a value v8.serialize refuses. */
  send(values: unknown[], count: number): boolean;
  fail(error: unknown, index: number): boolean;
}

type Runnable = Pick<WorkerSpec, 'fn' | 'items' | 'star' | 'plan'>;

/** The worker's ports: its task pipe and the result pipe (also built by the warm-up). */
function pipePorts(taskFd: number, resultFd: number): Ports {
  return {
    next: () => readTask(taskFd),
    send: (values, count) => sendResults(resultFd, values, count),
    fail: (error, index) => sendError(resultFd, error, index),
  };
}

// What runItems() stopped at, when it stopped before the chunk's end.
const THREW = 1;
const PENDING = 2;
let stopKind = 0;
let stopValue: unknown;

/**
 * Items start…end-1 into `values`; returns `end`, or the index of the item that threw or
 * returned a thenable (stopKind and stopValue say which). The hot loop: kept small, and run
 * in the parent too (warmUpWorkerLoop()).
 */
function runItems(spec: Runnable, values: unknown[], start: number, end: number): number {
  const { fn, items, star } = spec;
  for (let i = start; i < end; i++) {
    let value: unknown;
    try {
      value = star
        ? Reflect.apply(fn, undefined, [...(items[i] as Iterable<unknown>)])
        : fn(items[i], i, items);
    } catch (error) {
      stopKind = THREW;
      stopValue = error;
      return i;
    }
    if (isThenable(value)) {
      stopKind = PENDING;
      stopValue = value;
      return i;
    }
    values[i - start] = value;
  }
  return end;
}

// A chunk's results, in one array for every chunk of the worker: each page a worker writes for
// the first time is a page fault.
let chunkValues: unknown[] = [];

function valuesFor(count: number): unknown[] {
  if (chunkValues.length < count) {
    chunkValues = new Array<unknown>(count);
    // Made to hold any value from the start, as the warm-up's array does by its end: the loop
    // the parent compiled expects that kind of array, and a worker's new array of small
    // integers would make every worker throw the compiled loop away and compile it again.
    chunkValues[0] = null;
  }
  return chunkValues;
}

/** Runs chunks until there are none; returns a Promise once a result is a thenable. */
function work(spec: Runnable, ports: Ports): Promise<void> | undefined {
  for (;;) {
    const chunk = ports.next();
    if (chunk < 0) return undefined;
    const start = chunkStart(spec.plan, chunk);
    const end = chunkEnd(spec.plan, chunk);
    const values = valuesFor(end - start);
    const at = runItems(spec, values, start, end);
    let delivered: boolean;
    if (at === end) delivered = send(ports, values, start, end - start);
    else if (stopKind === THREW) delivered = ports.fail(takeStop(), at);
    else {
      const pending = takeStop() as PromiseLike<unknown>;
      return finishChunk(spec, ports, values, start, end, at, pending).then((ok) =>
        ok ? workAsync(spec, ports) : undefined,
      );
    }
    if (!delivered) return undefined;
  }
}

function takeStop(): unknown {
  const value = stopValue;
  stopValue = undefined;
  stopKind = 0;
  return value;
}

function call(spec: Runnable, i: number): unknown {
  const item = spec.items[i];
  return spec.star
    ? Reflect.apply(spec.fn, undefined, [...(item as Iterable<unknown>)])
    : spec.fn(item, i, spec.items);
}

/** The chunk's results, or the error of the first item whose result cannot be copied. */
function send(ports: Ports, values: unknown[], start: number, count: number): boolean {
  try {
    return ports.send(values, count);
  } catch (error) {
    // Serializing each value alone finds the one v8.serialize refused.
    for (let i = 0; i < count; i++) {
      try {
        v8().serialize(values[i]);
      } catch (refused) {
        return ports.fail(refused, start + i);
      }
    }
    return ports.fail(error, start);
  }
}

/** The rest of a chunk whose item `at` returned `pending`: every item awaited from now on. */
async function finishChunk(
  spec: Runnable,
  ports: Ports,
  values: unknown[],
  start: number,
  end: number,
  at: number,
  pending: PromiseLike<unknown>,
): Promise<boolean> {
  for (let i = at; i < end; i++) {
    try {
      const value = i === at ? pending : call(spec, i);
      values[i - start] = isThenable(value) ? await value : value;
    } catch (error) {
      return ports.fail(error, i);
    }
  }
  return send(ports, values, start, end - start);
}

/** The loop once the function has returned a Promise: chunks until none, items awaited. */
async function workAsync(spec: Runnable, ports: Ports): Promise<void> {
  for (;;) {
    const chunk = ports.next();
    if (chunk < 0) return;
    const start = chunkStart(spec.plan, chunk);
    const end = chunkEnd(spec.plan, chunk);
    const values = valuesFor(end - start);
    const first = callSafely(spec, start);
    if (!(await finishChunk(spec, ports, values, start, end, start, first))) return;
  }
}

/** The first item's call, its exception as a rejected Promise. */
function callSafely(spec: Runnable, i: number): PromiseLike<unknown> {
  try {
    return Promise.resolve(call(spec, i));
  } catch (error) {
    return Promise.reject(error);
  }
}

// ---------------------------------------------------------------------------------------
// The warm-up (src/warm-up.ts): the parent runs the worker's loop itself before it forks, on
// a few functions so that the loop does not expect one particular function, with the worker's
// own ports: chunk numbers from a pipe, results to /dev/null. The first warm-up of a process
// runs long enough for V8 to optimize that code: otherwise every worker of the next calls would
// reach V8's threshold and optimize it again itself.

const WARM_UP_ITEMS = Array.from({ length: 2048 }, (_, i) => i);
const WARM_UP_OBJECT = { warmUp: true };
// More functions than V8 tracks one by one (four): the call is megamorphic, so the compiled loop
// does not deoptimize when the worker calls the caller's function.
const WARM_UP_FNS: ((x: number) => unknown)[] = [
  (x) => x + 1,
  (x) => x * 0.5,
  (x) => x !== 3,
  (x) => (x % 2 === 0 ? null : 'odd'),
  (x) => x - 1,
  () => WARM_UP_OBJECT, // the v8.serialize path, without allocating per item
];
const FIRST_WARM_UP_ROUNDS = 8;
const WARM_UP_ROUNDS = 2;

/** Runs the worker's loop in this process, at most once a second (call it before forking workers). */
export const warmUpWorkerLoop = throttledWarmUp((first) => {
  const rounds = first ? FIRST_WARM_UP_ROUNDS : WARM_UP_ROUNDS;
  // Both kinds of plan: the caller's chunksize and the default one.
  const plans = [planChunks(WARM_UP_ITEMS.length, 512), planGuided(WARM_UP_ITEMS.length, 2, 256)];
  const fds: number[] = [];
  try {
    const [taskRead, taskWrite] = pipe();
    fds.push(taskRead, taskWrite);
    const devNull = openSync('/dev/null', 'w');
    fds.push(devNull);
    for (let round = 0; round < rounds; round++) {
      for (let i = 0; i < WARM_UP_FNS.length; i++) {
        const plan = plans[i % plans.length];
        sendTasks(
          taskWrite,
          Array.from({ length: plan.count + 1 }, (_, c) => (c < plan.count ? c : STOP)),
        );
        warmUpFunction(WARM_UP_FNS[i], plan, pipePorts(taskRead, devNull));
      }
    }
  } catch {
    // No descriptor to spare (EMFILE): the workers compile the loop themselves.
  } finally {
    for (const fd of fds) closeQuietly(fd);
  }
});

function warmUpFunction(fn: (x: number) => unknown, plan: ChunkPlan, ports: Ports): void {
  // Built like the call's spec (same properties, same order): V8 then sees one shape.
  const spec: WorkerSpec = {
    fn: fn as (...args: unknown[]) => unknown,
    items: WARM_UP_ITEMS,
    star: false,
    plan,
    taskFd: -1,
    resultFd: -1,
    parentFds: [],
    parentPid: 0,
  };
  work(spec, ports);
}
