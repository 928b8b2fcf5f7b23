// Pool's arguments and options: checked and normalised before any system call (TypeError,
// RangeError with Node's codes, through args.ts; options objects are read with its
// readOptions(), from own properties only).
import * as os from 'os';
import { checkInteger, invalidType } from '../args';

export interface PoolOptions {
  /** How many worker processes each call forks at most (Python `processes`). Default: the CPU count. */
  processes?: number;
}

export interface MapOptions {
  /**
   * Items a worker takes at a time (Python `chunksize`). Default: chunks of Python's size,
   * ceil(n / (4 × processes)), shrinking to 1/16 of it as the items run out.
   */
  chunksize?: number;
  /** Aborting kills the call's workers and rejects the call with `signal.reason`. */
  signal?: AbortSignal;
}

export interface ApplyOptions {
  /** Aborting kills the worker and rejects the call with `signal.reason`. */
  signal?: AbortSignal;
}

export interface PmapOptions extends MapOptions, PoolOptions {}

/** The most workers one call may fork. */
export const MAX_PROCESSES = 1024;
/** The largest chunk; indices travel as 32-bit numbers. */
export const MAX_CHUNKSIZE = 0xfffffffe;

export const POOL_OPTIONS = ['processes'] as const;
export const MAP_OPTIONS = ['chunksize', 'signal'] as const;
export const APPLY_OPTIONS = ['signal'] as const;
export const PMAP_OPTIONS = ['processes', 'chunksize', 'signal'] as const;

/** os.availableParallelism() where Node has it (18.14+), else the number of CPUs. */
export function defaultProcesses(): number {
  const available = (os as { availableParallelism?: () => number }).availableParallelism;
  const count = typeof available === 'function' ? available() : os.cpus().length;
  return Math.min(Math.max(1, count), MAX_PROCESSES);
}

/** undefined: the default; else an integer 1 … MAX_PROCESSES. */
export function checkProcesses(value: unknown, name = 'options.processes'): number {
  if (value === undefined) return defaultProcesses();
  return checkInteger(name, value, 1, MAX_PROCESSES);
}

/** undefined: null (the default rule applies); else an integer 1 … MAX_CHUNKSIZE. */
export function checkChunksize(value: unknown): number | null {
  if (value === undefined) return null;
  return checkInteger('options.chunksize', value, 1, MAX_CHUNKSIZE);
}

export function checkSignal(value: unknown): AbortSignal | null {
  if (value === undefined) return null;
  if (!(value instanceof AbortSignal))
    invalidType('options.signal', 'an instance of AbortSignal', value);
  return value;
}

function isIterable(value: unknown): value is Iterable<unknown> {
  return (
    value !== null &&
    value !== undefined &&
    typeof (value as { [Symbol.iterator]?: unknown })[Symbol.iterator] === 'function'
  );
}

/**
 * The items of a call as an array: an array as it is (the workers read the caller's array
 * itself), any other iterable read to its end now, since the workers are forked now.
 */
export function toItems(name: string, value: unknown): unknown[] {
  if (Array.isArray(value)) return value;
  if (!isIterable(value)) invalidType(name, 'an iterable object', value);
  return Array.from(value);
}

/** starmap: every item must be an iterable of arguments. */
export function checkArgumentLists(items: readonly unknown[]): void {
  for (let i = 0; i < items.length; i++) {
    if (!isIterable(items[i]) || typeof items[i] === 'string') {
      invalidType(`iterable[${i}]`, 'an iterable of arguments', items[i]);
    }
  }
}

/**
 * Python's default chunksize: the items cut into about four chunks per worker, so that a
 * worker that finishes early takes more while chunks stay large enough to keep the cost per
 * item low.
 */
export function defaultChunksize(length: number, processes: number): number {
  if (length === 0) return 1;
  return Math.ceil(length / (processes * 4));
}
