// The daemon's descriptors: which inherited ones it closes, where its stdio handles point,
// and how its log files are opened.
import * as fs from 'fs';
import { closeQuietly, openFds } from '../fds';
import { identityOf, startupFds } from './startup';
import { lazy } from '../lazy';
import { native } from '../native';

const tty = lazy(() => require('tty') as typeof import('tty'));

/** Space reserved in each log at launch, so that ENOSPC is the launcher's error. */
const LOG_RESERVE_BYTES = 64 * 1024;

/**
 * daemon(7) step 1 for the in-process fork: closes every descriptor >= 3 that is not kept and
 * was passed to this program (inheritable now, or open since start-up and still the same file).
 * Descriptors the program opened itself stay: they belong to live objects (servers, streams,
 * the event loop), and closing them behind Node's back would break those objects.
 */
export function closeInheritedFds(keep: ReadonlySet<number>): void {
  for (const fd of openFds()) {
    if (fd <= 2 || keep.has(fd)) continue;
    let inheritable: boolean;
    try {
      inheritable = !native.closeOnExec(fd);
    } catch {
      continue; // closed since the listing (the listing's own handle)
    }
    const atStart = startupFds.get(fd);
    if (inheritable || (atStart !== undefined && atStart === identityOf(fd))) closeQuietly(fd);
  }
}

/**
 * A terminal on stdout/stderr is not used through fd 1/2: libuv reopens it as a new
 * descriptor (so it can be non-blocking). Points the handles of the redirected streams at
 * their new targets too; when `detached`, also every other descriptor still on a terminal
 * (a TTY stdin handle) at /dev/null, so the daemon keeps no terminal open.
 */
export function retargetStdioHandles(
  redirected: { stdout: boolean; stderr: boolean },
  detached: boolean,
  devNull: number,
  keep: ReadonlySet<number>,
): void {
  const streams: Array<[NodeJS.WriteStream, number, boolean]> = [
    [process.stdout, 1, redirected.stdout],
    [process.stderr, 2, redirected.stderr],
  ];
  const handled = new Set<number>();
  for (const [stream, fd, wanted] of streams) {
    if (!wanted) continue;
    const handleFd = (stream as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
    if (typeof handleFd === 'number' && handleFd > 2 && !keep.has(handleFd)) {
      native.replaceFd(fd, handleFd, true);
      handled.add(handleFd);
      // No terminal any more: console must stop writing colour codes into the log.
      if (stream.isTTY) (stream as { isTTY: boolean }).isTTY = false;
    }
  }
  if (!detached) return;
  for (const fd of openFds()) {
    if (fd <= 2 || keep.has(fd) || handled.has(fd) || fd === devNull) continue;
    let terminal = false;
    try {
      terminal = tty().isatty(fd);
    } catch {
      terminal = false;
    }
    if (terminal) native.replaceFd(devNull, fd, true);
  }
}

/**
 * Opens a log for appending: created 0644, never through a symbolic link, never a file that
 * belongs to another user; space is reserved so that a full disk is reported now.
 */
export function openLogFile(file: string): number {
  const { O_WRONLY, O_APPEND, O_CREAT, O_NOFOLLOW, O_NONBLOCK } = fs.constants;
  let fd: number;
  try {
    fd = fs.openSync(file, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK, 0o644);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ELOOP' && code !== 'ENXIO') throw error;
    const why =
      code === 'ELOOP' ? 'is a symbolic link; refusing to follow it' : 'is a FIFO without a reader';
    throw Object.assign(new Error(`log file ${file} ${why}`), {
      code: 'ERR_INVALID_LOG_FILE',
      path: file,
      cause: error,
    });
  }
  try {
    const stat = fs.fstatSync(fd);
    const euid = process.geteuid?.() ?? 0;
    if (stat.isFile() && stat.uid !== euid && stat.uid !== 0) {
      throw Object.assign(
        new Error(
          `log file ${file} belongs to uid ${stat.uid}, neither this user (${euid}) nor root; refusing it`,
        ),
        { code: 'ERR_INVALID_LOG_FILE', path: file },
      );
    }
    try {
      native.reserveSpace(fd, LOG_RESERVE_BYTES);
    } catch (error) {
      const e = error as NodeJS.ErrnoException;
      e.message = `${e.message}, '${file}'`;
      e.path = file;
      throw e;
    }
    return fd;
  } catch (error) {
    closeQuietly(fd);
    throw error;
  }
}
