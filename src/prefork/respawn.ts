// Replacing workers that die: a crash is replaced at once; a slot whose workers keep failing to
// start is retried with a doubling backoff (and reported as a crash loop), so a worker that
// cannot start does not keep the machine busy forking.

/** A worker that dies within this long of its start counts as a failed start. */
export const QUICK_DEATH_MS = 1000;
/** Failed starts in a row that make a crash loop ('error' event). */
export const CRASH_LOOP_FAILURES = 5;
const FIRST_BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 5000;

/**
 * How long to wait before replacing a worker after `failures` failed starts in a row: nothing
 * for the first, then 100 ms doubling up to 5 s.
 */
export function respawnDelay(failures: number): number {
  if (failures <= 1) return 0;
  return Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** (failures - 2));
}

/** The replacements scheduled for each worker slot, and each slot's failed starts in a row. */
export class Respawns {
  readonly #failures = new Map<number, number>();
  readonly #timers = new Map<number, NodeJS.Timeout>();
  /** Slots to fill on this turn of the event loop, by one fill at #immediate. */
  readonly #dueNow = new Set<number>();
  #immediate: NodeJS.Immediate | null = null;
  readonly #fill: () => void;

  /** `fill` starts a worker in every empty slot that has no replacement scheduled. */
  constructor(fill: () => void) {
    this.#fill = fill;
  }

  /** Whether a replacement for slot `id` is scheduled. */
  has(id: number): boolean {
    return this.#timers.has(id) || this.#dueNow.has(id);
  }

  /**
   * The worker of slot `id` ended unasked: schedules its replacement after the backoff and
   * returns the failed starts in a row (1 after a worker that had served a while).
   */
  afterExit(id: number, failedStart: boolean): number {
    const failures = failedStart ? (this.#failures.get(id) ?? 0) + 1 : 1;
    this.#failures.set(id, failures);
    this.schedule(id, respawnDelay(failures));
    return failures;
  }

  /**
   * Fills the slots after `delayMs`, unless a replacement for `id` is already scheduled. At
   * once means on this turn of the event loop (a timer waits a millisecond at least), in one
   * fill for every slot due then, so that the replacements are forked back to back.
   */
  schedule(id: number, delayMs: number): void {
    if (this.has(id)) return;
    if (delayMs > 0) {
      const timer = setTimeout(() => {
        this.#timers.delete(id);
        this.#fill();
      }, delayMs);
      this.#timers.set(id, timer);
      return;
    }
    this.#dueNow.add(id);
    if (this.#immediate !== null) return;
    this.#immediate = setImmediate(() => {
      this.#immediate = null;
      if (this.#dueNow.size === 0) return; // all cancelled
      this.#dueNow.clear();
      this.#fill();
    });
  }

  /** Cancels the scheduled replacements of the slots from `firstId` on (all by default). */
  cancel(firstId = 0): void {
    for (const [id, timer] of this.#timers) {
      if (id < firstId) continue;
      clearTimeout(timer);
      this.#timers.delete(id);
    }
    for (const id of this.#dueNow) if (id >= firstId) this.#dueNow.delete(id);
  }
}
