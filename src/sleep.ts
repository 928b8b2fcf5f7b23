// The synchronous sleep, for the few places that must block their thread by design (joinSync(),
// launchers, `stop`): Atomics.wait on a cell nobody ever notifies.
const sleepCell = new Int32Array(new SharedArrayBuffer(4));

/** Blocks this thread for `ms` milliseconds (fractions allowed). */
export function sleepMs(ms: number): void {
  Atomics.wait(sleepCell, 0, 0, ms);
}
