// Pool: Python's multiprocessing.Pool on this library's fork(). Each call forks its workers
// when it is made, so the function (an ordinary closure) and the items are already in every
// worker's memory, shared copy-on-write with the parent; only results travel, through a pipe.
// Why per call and not long-lived workers: a worker forked earlier would run the function on
// the state of that earlier moment, not on the caller's state at the call.
import { native } from '../native';
import { checkArity, checkFunction, fail, readOptions } from '../args';
import { Call, abortError } from './call';
import {
  APPLY_OPTIONS,
  ApplyOptions,
  MAP_OPTIONS,
  MapOptions,
  PMAP_OPTIONS,
  POOL_OPTIONS,
  PmapOptions,
  PoolOptions,
  checkArgumentLists,
  checkChunksize,
  checkProcesses,
  checkSignal,
  defaultChunksize,
  toItems,
} from './options';
import { Collector, ResultStream } from './results';
import { ChunkPlan, planChunks, planGuided } from './schedule';
import { NEVER } from './worker';
import { requireMainThread } from '../main-thread';

export type { ApplyOptions, MapOptions, PmapOptions, PoolOptions } from './options';

type PoolStatus = 'running' | 'closed' | 'terminated';

interface PoolState {
  processes: number;
  status: PoolStatus;
  calls: Set<Call>;
  generation: number;
}

const states = new WeakMap<Pool, PoolState>();

function stateOf(self: unknown): PoolState {
  const state = states.get(self as Pool);
  if (state === undefined)
    fail(TypeError, 'ERR_INVALID_THIS', 'Value of "this" must be of type Pool');
  // A fork child's copy of a pool: the calls are its parent's.
  const generation = native.forkGeneration();
  if (state.generation !== generation) {
    state.generation = generation;
    state.calls = new Set();
  }
  return state;
}

function checkRunning(state: PoolState): void {
  if (state.status !== 'running') fail(Error, 'ERR_POOL_NOT_RUNNING', 'Pool not running');
}

interface Prepared {
  fn: (...args: unknown[]) => unknown;
  items: unknown[];
  plan: ChunkPlan;
  signal: AbortSignal | null;
}

function prepare(
  state: PoolState,
  fn: unknown,
  iterable: unknown,
  options: unknown,
  star: boolean,
): Prepared {
  const checked = checkFunction<(...args: unknown[]) => unknown>('fn', fn);
  const items = toItems('iterable', iterable);
  if (star) checkArgumentLists(items);
  const opts = readOptions(options, MAP_OPTIONS, 'options', true);
  const chunksize = checkChunksize(opts.chunksize);
  const signal = checkSignal(opts.signal);
  checkRunning(state);
  const plan =
    chunksize !== null
      ? planChunks(items.length, chunksize)
      : planGuided(items.length, state.processes, defaultChunksize(items.length, state.processes));
  return { fn: checked, items, plan, signal };
}

/** Starts `call`; true in a worker whose function went async (see worker.ts). */
function launch(state: PoolState, call: Call): boolean {
  const inWorker = call.start();
  if (inWorker) return true;
  state.calls.add(call);
  void call.ended.then(() => state.calls.delete(call));
  return false;
}

function collect(
  state: PoolState,
  prepared: Prepared,
  star: boolean,
  processes = state.processes,
): Promise<unknown[]> {
  const { fn, items, plan, signal } = prepared;
  if (signal?.aborted) return Promise.reject(abortError(signal));
  const collector = new Collector(items.length);
  const call = new Call({ fn, items, star, plan, processes, signal }, collector);
  collector.call = call;
  if (launch(state, call)) return NEVER;
  return collector.promise;
}

/** map() and starmap(): `args` is the method's (fn, iterable, options?). */
function mapAll(self: unknown, args: IArguments, star: boolean): Promise<unknown[]> {
  try {
    checkArity(args, 0, 3);
    const state = stateOf(self);
    return collect(state, prepare(state, args[0], args[1], args[2], star), star);
  } catch (error) {
    return Promise.reject(error);
  }
}

function stream<R>(
  state: PoolState,
  prepared: Prepared,
  ordered: boolean,
): AsyncIterableIterator<R> {
  const { fn, items, plan, signal } = prepared;
  if (signal?.aborted) throw abortError(signal);
  const results = new ResultStream<R>(ordered, plan.count);
  const call = new Call(
    { fn, items, star: false, plan, processes: state.processes, signal },
    results,
  );
  results.call = call;
  if (launch(state, call))
    return {
      next: () => NEVER,
      [Symbol.asyncIterator]() {
        return this;
      },
    };
  return results;
}

/**
 * Python's `multiprocessing.Pool` with the fork start method: `map`, `imap`, `imapUnordered`,
 * `starmap`, `apply`, `close`, `terminate`, `join`.
 *
 * Every call forks up to `processes` workers from the caller's current state: the function is
 * an ordinary closure and sees everything the caller had at the call (tables, class instances,
 * other closures) without copying it; only results come back, copied with v8.serialize
 * (structured clone). Start node with `--single-threaded` (see fork()). Not in worker threads.
 */
export class Pool {
  constructor(options?: PoolOptions) {
    checkArity(arguments, 0, 1);
    const opts = readOptions(options, POOL_OPTIONS, 'options', true);
    const processes = checkProcesses(opts.processes);
    requireMainThread('Pool');
    states.set(this, {
      processes,
      status: 'running',
      calls: new Set(),
      generation: native.forkGeneration(),
    });
  }

  /** The most workers each call forks. */
  get processes(): number {
    return stateOf(this).processes;
  }

  /**
   * Python `map()`: `fn(item, index, items)` for every item, in `chunksize` chunks spread over
   * the workers; resolves with the results in item order. Rejects with the first error (its
   * `index` is the failing item's), once every worker is reaped.
   */
  map<T, R>(
    fn: (item: T, index: number, items: readonly T[]) => R,
    iterable: Iterable<T>,
    options?: MapOptions,
  ): Promise<Awaited<R>[]> {
    return mapAll(this, arguments, false) as Promise<Awaited<R>[]>;
  }

  /** Python `starmap()`: `fn(...args)` for every `args` of `iterable`. */
  starmap<A extends unknown[], R>(
    fn: (...args: A) => R,
    iterable: Iterable<A>,
    options?: MapOptions,
  ): Promise<Awaited<R>[]> {
    return mapAll(this, arguments, true) as Promise<Awaited<R>[]>;
  }

  /** Python `apply()`, asynchronous: `fn(...args)` in one worker. */
  apply<A extends unknown[], R>(
    fn: (...args: A) => R,
    args?: A,
    options?: ApplyOptions,
  ): Promise<Awaited<R>> {
    try {
      checkArity(arguments, 0, 3);
      const state = stateOf(this);
      const checked = checkFunction<(...args: unknown[]) => unknown>('fn', fn);
      const list = args === undefined ? [] : toItems('args', args);
      const { signal } = readOptions(options, APPLY_OPTIONS, 'options', true);
      const prepared = {
        fn: checked,
        items: [list],
        plan: planChunks(1, 1),
        signal: checkSignal(signal),
      };
      checkRunning(state);
      return collect(state, prepared, true, 1).then((results) => results[0]) as Promise<Awaited<R>>;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Python `imap()`: the results in item order, each as soon as it and those before it are in. */
  imap<T, R>(
    fn: (item: T, index: number, items: readonly T[]) => R,
    iterable: Iterable<T>,
    options?: MapOptions,
  ): AsyncIterableIterator<Awaited<R>> {
    checkArity(arguments, 0, 3);
    const state = stateOf(this);
    return stream(state, prepare(state, fn, iterable, options, false), true);
  }

  /** Python `imap_unordered()`: the results as they arrive. */
  imapUnordered<T, R>(
    fn: (item: T, index: number, items: readonly T[]) => R,
    iterable: Iterable<T>,
    options?: MapOptions,
  ): AsyncIterableIterator<Awaited<R>> {
    checkArity(arguments, 0, 3);
    const state = stateOf(this);
    return stream(state, prepare(state, fn, iterable, options, false), false);
  }

  /**
   * Python `close()`: no new calls; resolves once the running ones have ended and their
   * workers are reaped (Python's `join()` after `close()`).
   */
  close(): Promise<void> {
    return settleAfter(this, arguments, (state) => {
      if (state.status === 'running') state.status = 'closed';
    });
  }

  /**
   * Python `terminate()`: no new calls; the running ones are stopped (their workers get
   * SIGKILL) and reject with ERR_POOL_TERMINATED. Resolves once their workers are reaped.
   */
  terminate(): Promise<void> {
    return settleAfter(this, arguments, (state) => {
      state.status = 'terminated';
      for (const call of state.calls) {
        call.stop(Object.assign(new Error('Pool terminated'), { code: 'ERR_POOL_TERMINATED' }));
      }
    });
  }

  /** Python `join()`: after close() or terminate(), resolves once every worker is reaped. */
  join(): Promise<void> {
    return settleAfter(this, arguments, (state) => {
      if (state.status === 'running') fail(Error, 'ERR_POOL_RUNNING', 'Pool is still running');
    });
  }
}

/** close(), terminate(), join(): `change` the state, then wait until every call has ended. */
function settleAfter(
  self: unknown,
  args: IArguments,
  change: (state: PoolState) => void,
): Promise<void> {
  try {
    checkArity(args, 0, 0);
    const state = stateOf(self);
    change(state);
    return settled(state);
  } catch (error) {
    return Promise.reject(error);
  }
}

function settled(state: PoolState): Promise<void> {
  return Promise.all([...state.calls].map((call) => call.ended)).then(() => undefined);
}

/**
 * One-shot `new Pool({ processes }).map(fn, items, { chunksize, signal })`: the results of
 * `fn(item, index, items)` for every item, in order.
 */
export function pmap<T, R>(
  iterable: Iterable<T>,
  fn: (item: T, index: number, items: readonly T[]) => R,
  options?: PmapOptions,
): Promise<Awaited<R>[]> {
  try {
    checkArity(arguments, 0, 3);
    const { processes, chunksize, signal } = readOptions(options, PMAP_OPTIONS, 'options', true);
    const pool = new Pool({ processes: checkProcesses(processes) });
    const mapOptions: MapOptions = {};
    if (chunksize !== undefined) mapOptions.chunksize = chunksize as number;
    if (signal !== undefined) mapOptions.signal = signal as AbortSignal;
    const result = pool.map(fn, iterable, mapOptions);
    void pool.close();
    return result;
  } catch (error) {
    return Promise.reject(error);
  }
}
