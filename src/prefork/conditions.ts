// Promises that settle when a condition on the master's state holds: the master calls
// changed() after every change of its workers, and rejectAll() when it closes.

interface Waiter {
  done(): boolean;
  resolve(): void;
  reject(error: Error): void;
}

export class Conditions {
  #waiters: Waiter[] = [];

  /** Resolves once `done()` is true, checked now and at every changed(). */
  until(done: () => boolean): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise((resolve, reject) => this.#waiters.push({ done, resolve, reject }));
  }

  /** Resolves the waiters whose condition now holds. */
  changed(): void {
    const waiting = this.#waiters;
    this.#waiters = waiting.filter((waiter) => !waiter.done());
    for (const waiter of waiting) if (!this.#waiters.includes(waiter)) waiter.resolve();
  }

  /** Rejects every waiter with `error`. */
  rejectAll(error: Error): void {
    const waiting = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiting) waiter.reject(error);
  }

  /** Drops every waiter unsettled (a fork child's copy of the master's state). */
  forget(): void {
    this.#waiters = [];
  }
}
