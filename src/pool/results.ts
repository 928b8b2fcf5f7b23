// Where a call's chunk outcomes go: map() collects them into one array; imap() and
// imapUnordered() hand them out one result at a time, in item order or as they arrive.
import type { Slot } from './wire';

/** The part of a call a sink may act on. */
export interface Stoppable {
  stop(error: Error): void;
  readonly ended: Promise<void>;
}

/**
 * map(): the results in item order. The first item error stops the call (as Python's map
 * fails at its first failed chunk); the Promise settles once every worker is reaped.
 */
export class Collector {
  // Made when the first results arrive, after the fork: an array made before it would share
  // its pages with the running workers, and each page the parent then writes is copied.
  private results: unknown[] | null = null;
  readonly promise: Promise<unknown[]>;
  call: Stoppable | null = null;
  private resolve!: (results: unknown[]) => void;
  private reject!: (error: Error) => void;

  constructor(private readonly length: number) {
    this.promise = new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }

  slot(_chunk: number, start: number): Slot {
    return { array: (this.results ??= new Array<unknown>(this.length)), offset: start };
  }

  chunk(_chunk: number, error: Error | null): void {
    if (error !== null) this.call?.stop(error);
  }

  end(error: Error | null): void {
    if (error === null) this.resolve(this.results ?? new Array<unknown>(this.length));
    else this.reject(error);
  }
}

/** A chunk's outcome: its results, or the error of one of its items (with `index`). */
type ChunkOutcome = { values: unknown[]; error: null } | { values: null; error: Error };

/** Thrown by nobody: the reason a call stops when its consumer stops iterating. */
const CONSUMER_STOPPED = new Error('the consumer stopped iterating');

/**
 * imap() (ordered) and imapUnordered(): an async iterator over the results. An item error is
 * thrown when iteration reaches it (in order for imap, on arrival for imapUnordered), as in
 * Python; a call stopped by a dead worker or an abort throws its error after the results that
 * came before it. Ending the iteration early (break, an exception, return()) kills the
 * workers; every way of ending waits until they are reaped.
 */
export class ResultStream<R> implements AsyncIterableIterator<R> {
  call: Stoppable | null = null;
  /** Chunks whose results are coming in. */
  private readonly filling = new Map<number, unknown[]>();
  private readonly ready = new Map<number, ChunkOutcome>();
  private arrivals = 0;
  /** The next chunk (ordered) or arrival (unordered) to hand out. */
  private nextKey = 0;
  private current: unknown[] | null = null;
  private position = 0;
  /** undefined while the call runs; then null (finished) or its error. */
  private endError: Error | null | undefined = undefined;
  private done = false;
  private waiters: (() => void)[] = [];

  constructor(
    private readonly ordered: boolean,
    private readonly chunks: number,
  ) {}

  slot(chunk: number, _start: number, count: number): Slot {
    const array = new Array<unknown>(count);
    this.filling.set(chunk, array);
    return { array, offset: 0 };
  }

  chunk(chunk: number, error: Error | null): void {
    const values = this.filling.get(chunk) ?? [];
    this.filling.delete(chunk);
    const outcome: ChunkOutcome =
      error === null ? { values, error: null } : { values: null, error };
    this.ready.set(this.ordered ? chunk : this.arrivals++, outcome);
    this.wake();
  }

  end(error: Error | null): void {
    this.endError = error;
    this.wake();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  async next(): Promise<IteratorResult<R>> {
    for (;;) {
      if (this.done) return { value: undefined, done: true };
      const current = this.current;
      if (current !== null && this.position < current.length) {
        return { value: current[this.position++] as R, done: false };
      }
      this.current = null;
      if (this.nextKey === this.chunks) return this.finish(null);
      const outcome = this.ready.get(this.nextKey);
      if (outcome !== undefined) {
        this.ready.delete(this.nextKey++);
        if (outcome.error !== null) return this.finish(outcome.error);
        this.current = outcome.values;
        this.position = 0;
        continue;
      }
      if (this.endError !== undefined)
        return this.finish(this.endError ?? new Error('the call ended early'));
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  /** Ends the iteration: the workers are killed (unless all chunks came back) and reaped. */
  async return(): Promise<IteratorResult<R>> {
    if (!this.done) await this.finish(CONSUMER_STOPPED).catch(() => undefined);
    return { value: undefined, done: true };
  }

  private async finish(error: Error | null): Promise<IteratorResult<R>> {
    this.done = true;
    this.current = null;
    this.ready.clear();
    this.filling.clear();
    if (error !== null) this.call?.stop(error);
    await this.call?.ended;
    if (error !== null && error !== CONSUMER_STOPPED) throw error;
    return { value: undefined, done: true };
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<R> {
    return this;
  }
}
