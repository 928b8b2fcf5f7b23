// Small descriptor helpers shared by every module that opens pipes or files.
import { closeSync } from 'fs';

/** close(fd), ignoring EBADF: for cleanup paths where the descriptor may be closed already. */
export function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // Already closed: nothing to release.
  }
}
