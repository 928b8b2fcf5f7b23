// daemonize(): the classic double-fork recipe, done the way daemon(7) asks, returning only in
// the daemon, which goes on running the same JavaScript program.
//
// Three ways to get there, chosen by daemonize() itself:
// - 'fork'   (node started in the fork-safe mode): fork, setsid, fork in this process; the
//            daemon keeps the heap, timers and handles of the launcher.
// - 'reexec' (any other node): an in-process fork is not safe (V8's threads would be missing
//            in the child), so native code double-forks and the grandchild execs the same
//            script in the fork-safe mode; when the script calls daemonize() again it finds
//            the hand-over in the environment and finishes the setup there.
// - 'none'   (detach: false, or 'auto' under init/systemd): no fork, the process becomes the
//            daemon in place (new-style daemon, daemon(7)).
//
// options.ts checks the options, launcher.ts is the launching process, runtime.ts the
// daemon's side, files.ts its descriptors and logs, status.ts the pipe between the two;
// startup.ts and start-error.ts are what the library loads before daemonize() is called.
import { argError, checkArity } from '../args';
import { isForkSafe } from '../forksafe';
import { requireMainThread } from '../main-thread';
import { checkPathsBeforeFork, launchByFork, launchByReexec } from './launcher';
import { Daemon, DaemonizeOptions, normalizeOptions, startedBySupervisor } from './options';
import { becomeInPlace, finishReexec, isDaemonized } from './runtime';
import { handover } from './startup';

export type { Daemon, DaemonizeOptions } from './options';

/**
 * daemonize(options?) — Python's classic `daemonize()` recipe (fork, setsid, fork, chdir,
 * umask, stdio to /dev/null, pidfile) and the SysV steps of daemon(7), returning only in the
 * daemon. The launching process never returns: it exits 0 once the daemon has written its
 * pidfile (with `waitForReady`, once the daemon calls `ready()`), or throws: a TypeError or
 * RangeError for bad options, ERR_DAEMON_RUNNING ("already running (pid N)") when the pidfile
 * is locked by a live daemon, a system error for unusable paths — all before anything forks —
 * or a DaemonStartError when the daemon fails first.
 *
 * Strategy: in-process double fork when node runs with --single-threaded (the daemon keeps
 * this process's state); otherwise the grandchild re-executes this script with
 * --single-threaded and everything before daemonize() runs again there. `detach: 'auto'`
 * does not fork when started by init or systemd (parent pid 1, $INVOCATION_ID or
 * $NOTIFY_SOCKET set).
 *
 * Platform notes: Linux and macOS. Descriptor checks use /proc/self/fd on Linux and /dev/fd on
 * macOS; a pidfile record's start time comes from /proc on Linux and ps(1) on macOS.
 */
export function daemonize(options?: DaemonizeOptions): Daemon {
  checkArity(arguments, 0, 1);
  if (handover !== null && !isDaemonized()) return finishReexec(handover, options);
  const settings = normalizeOptions(options);
  if (isDaemonized()) {
    throw argError(
      Error,
      'ERR_ALREADY_DAEMONIZED',
      'daemonize() was already called in this process',
    );
  }
  requireMainThread('daemonize()');
  const detach = settings.detach === 'auto' ? !startedBySupervisor() : settings.detach;
  if (!detach) return becomeInPlace(settings);
  checkPathsBeforeFork(settings);
  return isForkSafe() ? launchByFork(settings) : launchByReexec(settings);
}
