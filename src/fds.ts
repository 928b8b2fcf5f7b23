// This process's descriptors: which are open, what each is open on, closing one that may be
// closed already. Apart from proc.ts because the library lists them at load
// (daemon/startup.ts), and proc.ts loads on first use.
import { closeSync, readdirSync, readlinkSync } from 'fs';

/**
 * This process's open descriptors, ascending: /proc/self/fd on Linux, /dev/fd elsewhere. The
 * descriptor of the listing itself is among them, closed by the time this returns.
 */
export function openFds(): number[] {
  try {
    return readdirSync(process.platform === 'linux' ? '/proc/self/fd' : '/dev/fd')
      .map(Number)
      .filter((fd) => Number.isInteger(fd))
      .sort((a, b) => a - b);
  } catch {
    return [];
  }
}

/** What descriptor `fd` of this process is open on ('pipe:[123]', a path…), or null (Linux). */
export function fdTarget(fd: number): string | null {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return null;
  }
}

/** Closes `fd`, which may be closed already (EBADF is no error here). */
export function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // Already closed: nothing to release.
  }
}
