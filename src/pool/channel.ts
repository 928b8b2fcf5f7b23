// The channels between a call and its workers.
//
// Parent -> worker: one task pipe per worker, carrying 32-bit chunk numbers (STOP: end). The
// items never travel: the worker has them already, in the memory it was forked with.
// Worker -> parent: one result pipe for all the pool workers of this process, one record per
// chunk (its results or its error) in the format of wire.ts, read by one unref'd net.Socket
// into a single reused buffer.
import type { Socket } from 'net';
import { native } from '../native';
import { parentOnlyPipe } from '../process/result-pipe';
import { STOP } from './schedule';
import { PieceReader, RecordDecoder, writeError, writeResults } from './wire';

// ---------------------------------------------------------------------------------------
// Worker side

/** Sends the results `values[0…count)`; false when the parent is gone (EPIPE). Throws DataCloneError. */
export function sendResults(fd: number, values: ArrayLike<unknown>, count: number): boolean {
  return writeResults(values, count, process.pid, (piece) =>
    native.writeAll(fd, piece, piece.length),
  );
}

/** Sends the error of item `index`; false when the parent is gone (EPIPE). */
export function sendError(fd: number, error: unknown, index: number): boolean {
  return writeError(error, index, process.pid, (piece) => native.writeAll(fd, piece, piece.length));
}

// ---------------------------------------------------------------------------------------
// Parent side: the result pipe of this process's pools, made at the first call. A fork child
// inherits the parent's, whose reading side is the parent's (fork() stops it in the child): a
// process uses only a pipe it made itself, told by the fork generation.

// Every read lands here, and its pieces are decoded before the next read.
const readBuffer = Buffer.allocUnsafeSlow(65536);

export class ResultPipe {
  readonly readFd: number;
  readonly writeFd: number;
  private readonly socket: Socket;
  private readonly pieces: PieceReader;
  private readonly decoders = new Map<number, RecordDecoder>();

  constructor() {
    this.pieces = new PieceReader((pid, flags, data) => this.decoders.get(pid)?.piece(flags, data));
    const onread = {
      buffer: readBuffer,
      callback: (n: number) => this.pieces.feed(readBuffer.subarray(0, n)),
    };
    ({ readFd: this.readFd, writeFd: this.writeFd, socket: this.socket } = parentOnlyPipe(onread));
  }

  /** Worker `pid`'s records go to `decoder` from now on. */
  receive(pid: number, decoder: RecordDecoder): void {
    this.decoders.set(pid, decoder);
  }

  /** A reaped worker: its unfinished record (it was killed while writing) is dropped. */
  forget(pid: number): void {
    this.decoders.delete(pid);
  }

  /** Reads what is in the pipe now, without blocking (a reaped worker's last records). */
  drainSync(): void {
    if (this.socket.destroyed) return;
    for (;;) {
      const n = native.readAvailable(this.readFd, readBuffer);
      if (n <= 0) return; // empty (or, never while we hold the write end, closed)
      this.pieces.feed(readBuffer.subarray(0, n));
    }
  }
}

let resultPipe: ResultPipe | null = null;
let pipeGeneration = -1;

export function poolPipe(): ResultPipe {
  const generation = native.forkGeneration();
  if (resultPipe === null || pipeGeneration !== generation) {
    resultPipe = new ResultPipe();
    pipeGeneration = generation;
  }
  return resultPipe;
}

/** The pipe this process made, if any (not one inherited from a parent). */
export function ownPoolPipe(): ResultPipe | null {
  return resultPipe !== null && pipeGeneration === native.forkGeneration() ? resultPipe : null;
}

// ---------------------------------------------------------------------------------------
// Task pipes

const taskOut = Buffer.alloc(4);
const taskIn = Buffer.alloc(4);

/** Parent side: writes chunk numbers (or STOP); false when the worker is gone (EPIPE). */
export function sendTasks(fd: number, chunks: readonly number[]): boolean {
  for (const chunk of chunks) {
    taskOut.writeUInt32LE(chunk, 0);
    if (!native.writeAll(fd, taskOut, 4)) return false;
  }
  return true;
}

/** Worker side: blocks for the next chunk number; -1 at STOP or when the parent is gone (EOF). */
export function readTask(fd: number): number {
  let have = 0;
  while (have < 4) {
    const n = native.readAvailable(fd, taskIn.subarray(have));
    if (n <= 0) return -1; // EOF: every write end is closed, so the parent has died
    have += n;
  }
  const chunk = taskIn.readUInt32LE(0);
  return chunk === STOP ? -1 : chunk;
}
