// Process's options and timeouts: checked before anything happens (TypeError/RangeError with
// Node's codes, through args.ts), and read from own properties only, so that a property added
// to Object.prototype never changes what a Process does.
import { invalidType, outOfRange, readOptions } from '../args';

export interface ProcessOptions<T = unknown> {
  /**
   * The function the child runs (Python `target`), called with `args`. Its return value, or
   * the value its returned Promise resolves to, becomes `result` in the parent.
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a target of any parameter types
  target?: ((...args: any[]) => T | PromiseLike<T>) | null;
  /** Arguments for `target` (Python `args`), passed as they are: no copying, no serializing. */
  args?: readonly unknown[] | null;
  /** Default `Process-N` (`Process-N:M` in a child of a Process; the subclass name for subclasses). */
  name?: string | null;
  /** Terminate the child when the parent exits (Python `daemon`). Default: the current process's flag. */
  daemon?: boolean | null;
}

/** The options as checked; null where the caller gave none (undefined or null). */
export interface CheckedOptions {
  target: ((...args: unknown[]) => unknown) | null;
  /** A copy: later changes to the caller's array do not reach the child. */
  args: unknown[];
  name: string | null;
  daemon: boolean | null;
}

const OPTION_KEYS = ['target', 'args', 'name', 'daemon'];

/** Checks `new Process(options)`'s argument. */
export function checkProcessOptions(value: unknown): CheckedOptions {
  const options = readOptions(value, OPTION_KEYS);
  const { target, args, name, daemon } = options;
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
  return {
    target: (target ?? null) as CheckedOptions['target'],
    args: [...((args ?? []) as unknown[])],
    name: (name ?? null) as string | null,
    daemon: (daemon ?? null) as boolean | null,
  };
}

export const MAX_TIMEOUT_MS = 2147483647;

/** A join timeout: undefined, null or Infinity mean none (null); otherwise 0 … 2147483647 ms. */
export function checkTimeout(value: unknown): number | null {
  if (value === undefined || value === null || value === Infinity) return null;
  if (typeof value !== 'number') invalidType('timeoutMs', 'of type number', value);
  if (!(value >= 0 && value <= MAX_TIMEOUT_MS)) {
    outOfRange('timeoutMs', `>= 0 && <= ${MAX_TIMEOUT_MS} or Infinity`, value);
  }
  return value;
}
