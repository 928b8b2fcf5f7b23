// The status pipe between the launcher and the daemon: one JSON message per line.
import * as fs from 'fs';

/** What the daemon tells the launcher. */
export interface StatusMessage {
  event: 'started' | 'ready' | 'failed' | 'exit' | 'signal';
  pid?: number;
  message?: string;
  code?: number;
  signal?: NodeJS.Signals;
}

/** Writes one message; a launcher that is gone (EPIPE) is nobody to tell. */
export function sendStatus(fd: number, message: StatusMessage): void {
  const data = Buffer.from(`${JSON.stringify(message)}\n`);
  let offset = 0;
  try {
    while (offset < data.length) offset += fs.writeSync(fd, data, offset);
  } catch {
    // The launcher is gone (EPIPE): nobody is waiting any more.
  }
}

export { describeError } from '../child-runtime';
