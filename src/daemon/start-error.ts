// The error daemonize() throws in the launcher. The library exports it at load, and loads the
// rest of src/daemon/ (index.ts on) only when daemonize() is first called: so this module
// imports nothing.

/**
 * Thrown in the launcher when the daemon ended or failed before it was started (or, with
 * waitForReady, before ready()). Its message carries the daemon's own error text.
 */
export class DaemonStartError extends Error {
  readonly code = 'ERR_DAEMON_START';
  /** The daemon's error (util.inspect text), from fail() or an uncaught exception. */
  declare readonly daemonError: string | null;
  constructor(
    message: string,
    /** The daemon's pid, when it got that far. */
    readonly daemonPid: number | null,
    daemonError: string | null,
    /** The daemon's exit code, when it exited. */
    readonly exitCode: number | null,
    /** The signal that ended the daemon, when one did and the daemon could tell. */
    readonly signal: NodeJS.Signals | null,
  ) {
    super(message);
    this.name = 'DaemonStartError';
    // Already in the message: not enumerable, so an uncaught error does not print it twice.
    Object.defineProperty(this, 'daemonError', { value: daemonError, enumerable: false });
    // The launcher's own stack says nothing useful; the message has the daemon's.
    this.stack = `${this.name}: ${message}`;
  }
}
