// How a call's items are cut into chunks and handed to its workers. A worker takes one chunk at
// a time from its own task pipe; the parent keeps PREFETCH chunks queued per worker, so that a
// worker never waits for the parent between two chunks, and hands out the next chunk when a
// result comes back, so that a worker that finishes early takes more.

/** Chunks queued for a worker at once: the one it runs and the next. */
export const PREFETCH = 2;
/** Written instead of a chunk number: no more chunks, the worker ends. */
export const STOP = 0xffffffff;

export interface ChunkPlan {
  /** Items in the call. */
  readonly length: number;
  /** Items per chunk (the last may have fewer); 0 when `starts` says. */
  readonly chunksize: number;
  /** Chunks of different sizes: the first item of each, then `length`. */
  readonly starts: readonly number[] | null;
  readonly count: number;
}

/** Chunks of `chunksize` items (the caller's chunksize). */
export function planChunks(length: number, chunksize: number): ChunkPlan {
  return { length, chunksize, starts: null, count: Math.ceil(length / chunksize) };
}

/**
 * The default plan: chunks that shrink as the items run out, so that the workers finish
 * together. Each chunk takes 1/(4 × processes) of the items left, at most `largest` (Python's
 * chunksize) and at least 1/16 of that: the first chunks keep the cost per item low, the last
 * ones leave no worker with a long chunk while the others have ended.
 */
export function planGuided(length: number, processes: number, largest: number): ChunkPlan {
  const smallest = Math.max(1, Math.ceil(largest / 16));
  const starts: number[] = [];
  for (let at = 0; at < length;) {
    starts.push(at);
    const size = Math.ceil((length - at) / (4 * processes));
    at += Math.min(length - at, Math.max(smallest, Math.min(largest, size)));
  }
  const count = starts.length;
  starts.push(length);
  return { length, chunksize: 0, starts, count };
}

/** The first item of `chunk` and the item after its last one. */
export function chunkStart(plan: ChunkPlan, chunk: number): number {
  return plan.starts === null ? chunk * plan.chunksize : plan.starts[chunk];
}

export function chunkEnd(plan: ChunkPlan, chunk: number): number {
  return plan.starts === null
    ? Math.min(plan.length, (chunk + 1) * plan.chunksize)
    : plan.starts[chunk + 1];
}

/** Workers a call forks: no more than it has chunks. */
export function workerCount(plan: ChunkPlan, processes: number): number {
  return Math.min(processes, plan.count);
}

/**
 * The parent's side of the hand-out: which chunks each worker has queued (in the order it runs
 * them) and which chunk goes next.
 */
export class Dispatcher {
  private next = 0;
  private readonly queues = new Map<number, { chunks: number[]; stopped: boolean }>();

  constructor(readonly plan: ChunkPlan) {}

  /** Chunks not handed out yet. */
  get remaining(): number {
    return this.plan.count - this.next;
  }

  /**
   * Registers worker `id` and returns what to write to its pipe: its first chunk (STOP when no
   * chunk is left). The workers forked after it get theirs before anyone gets a second one.
   */
  add(id: number): number[] {
    const entry = { chunks: [] as number[], stopped: false };
    this.queues.set(id, entry);
    const out: number[] = [];
    this.fill(entry, out, 1);
    return out;
  }

  /** Once every worker has its first chunk: what to write to worker `id` to queue PREFETCH. */
  topUp(id: number): number[] {
    const out: number[] = [];
    const entry = this.queues.get(id);
    if (entry !== undefined) this.fill(entry, out, PREFETCH);
    return out;
  }

  /**
   * Worker `id` sent the result of its oldest queued chunk: returns that chunk (or -1 when it
   * had none) and appends to `write` what to write to its pipe now.
   */
  done(id: number, write: number[]): number {
    const entry = this.queues.get(id);
    if (entry === undefined || entry.chunks.length === 0) return -1;
    const chunk = entry.chunks.shift() as number;
    this.fill(entry, write, PREFETCH);
    return chunk;
  }

  private fill(entry: { chunks: number[]; stopped: boolean }, out: number[], depth: number): void {
    while (entry.chunks.length < depth && this.next < this.plan.count) {
      entry.chunks.push(this.next);
      out.push(this.next++);
    }
    if (this.next === this.plan.count && !entry.stopped) {
      entry.stopped = true;
      out.push(STOP);
    }
  }

  /** The chunks worker `id` still has queued (its first one is the one it runs). */
  queued(id: number): readonly number[] {
    return this.queues.get(id)?.chunks ?? [];
  }

  /** Worker `id` is gone: its queued chunks, which nobody will run now. */
  remove(id: number): number[] {
    const entry = this.queues.get(id);
    this.queues.delete(id);
    return entry?.chunks ?? [];
  }
}
