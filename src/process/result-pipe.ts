// The result pipe: one per parent, shared by all the children it starts, carrying records in
// the format of wire.ts. One pipe and one reader for all children, because a socket per child
// would cost the parent more than the fork itself. src/pool reads its chunk results through a
// pipe of its own made by parentOnlyPipe(), in its own format (src/pool/wire.ts).
import type { Socket } from 'net';
import { closeQuietly } from '../fds';
import { lazy } from '../lazy';
import { native } from '../native';
import { pipe } from '../posix';
import {
  KIND_RESULT,
  PIPE_BUF,
  RecordAssembler,
  ResultRecord,
  encodeChunks,
  encodeSmall,
  v8,
} from './wire';

const net = lazy(() => require('net') as typeof import('net'));

/** Node's `onread` socket option: reads land in `buffer`, and `callback` gets the byte count. */
export interface ReadInto {
  buffer: Buffer;
  callback(bytes: number): void;
}

/**
 * A pipe that only this process reads, through an unref'd net.Socket that fork children do not
 * read (their copy of the pipe is this process's). With `onread`, Node reads into one buffer
 * instead of a new Buffer per read.
 */
export function parentOnlyPipe(onread?: ReadInto): {
  readFd: number;
  writeFd: number;
  socket: Socket;
} {
  const [readFd, writeFd] = pipe();
  let socket: Socket;
  try {
    // onread is typed for net.connect() only; the Socket constructor takes it too.
    const options = { fd: readFd, readable: true, writable: false, ...(onread && { onread }) };
    socket = new (net().Socket)(options as ConstructorParameters<typeof Socket>[0]);
  } catch (error) {
    closeQuietly(readFd);
    closeQuietly(writeFd);
    throw error;
  }
  socket.unref();
  native.stopReadingInForkChildren(readFd);
  socket.on('error', () => undefined); // cannot happen while we hold the write end
  return { readFd, writeFd, socket };
}

// One buffer for every synchronous read: each fork makes the parent's written pages copy-on-write.
const readBuffer = Buffer.allocUnsafe(65536);

/**
 * Parent side. A net.Socket (a libuv pipe watch: no threadpool request, so fork() is never
 * refused because of it; unref'd) reads chunks as they come, so a child writing a large result
 * never blocks for long; the same descriptor, non-blocking since libuv opened it, is also read
 * synchronously by joinSync() and when a reaped child's record is still in the pipe.
 */
export class ResultPipe {
  readonly readFd: number;
  readonly writeFd: number;
  private readonly socket: Socket;
  private readonly records: RecordAssembler;
  /** Bytes received so far (joinSync keeps its polls short while data flows). */
  received = 0;

  constructor(deliver: (pid: number, record: ResultRecord) => void) {
    this.records = new RecordAssembler(deliver);
    ({ readFd: this.readFd, writeFd: this.writeFd, socket: this.socket } = parentOnlyPipe());
    // Paused mode: data stays in the stream until read(), so synchronous reads keep the order.
    this.socket.on('readable', () => this.pull());
  }

  private pull(): void {
    let data: Buffer | null;
    while ((data = this.socket.read() as Buffer | null) !== null) this.feed(data);
  }

  /**
   * Reads what is in the pipe now, without blocking, and delivers the complete records;
   * stops early once `enough()`.
   */
  drainSync(enough: () => boolean = () => false): void {
    if (this.socket.destroyed) return;
    this.pull();
    while (!enough()) {
      const n = native.readAvailable(this.readFd, readBuffer);
      if (n <= 0) return; // empty (or, never while we hold the write end, closed)
      this.feed(readBuffer.subarray(0, n));
    }
  }

  private feed(data: Buffer): void {
    this.received += data.length;
    this.records.feed(data);
  }

  /** A reaped child's unfinished record (it was killed while writing) is dropped. */
  forget(pid: number): void {
    this.records.forget(pid);
  }
}

/** Child side: the whole record, chunk by chunk, each chunk one atomic write(); false on EPIPE. */
export function sendRecord(fd: number, kind: number, payload: Buffer): boolean {
  const out = encodeChunks(process.pid, kind, payload);
  for (let at = 0; at < out.length; at += PIPE_BUF) {
    const chunk = out.subarray(at, Math.min(at + PIPE_BUF, out.length));
    if (!native.writeAll(fd, chunk, chunk.length)) return false; // EPIPE: nobody wants the result
  }
  return true;
}

// A small value's one-chunk record is built in this buffer, allocated (and its page touched)
// in the parent, so that the child writes into it without allocating.
const smallRecord = Buffer.alloc(PIPE_BUF);

/**
 * Child side: a Process's result, as a small record or v8.serialize'd. Throws DataCloneError
 * when v8.serialize cannot copy the value. A negative `fd` sends nothing (the warm-up).
 */
export function sendResult(fd: number, value: unknown): void {
  if (fd < 0) return;
  const length = encodeSmall(value, process.pid, smallRecord);
  if (length < 0) sendRecord(fd, KIND_RESULT, v8().serialize(value));
  else native.writeAll(fd, smallRecord, length);
}

const SMALL_RESULTS = [undefined, null, true, 0.5, 'x'];

/** Runs the child's encoders in the parent, for warmUpChildPath() (child.ts). */
export function warmUpResultEncoders(): void {
  encodeChunks(0, KIND_RESULT, v8().serialize(undefined));
  for (const value of SMALL_RESULTS) encodeSmall(value, 0, smallRecord);
  sendResult(-1, undefined);
}
