// The channels between a call and its workers.
//
// Parent -> worker: one task pipe per worker, carrying 32-bit chunk numbers (STOP: end). The
// items never travel: the worker has them already, in the memory it was forked with.
// Worker -> parent: one result pipe for all the pool's workers in this process, in Process's
// record format (src/process.ts: pid-tagged chunks of at most PIPE_BUF bytes, written
// atomically, read by one unref'd net.Socket): one record per chunk, its results or its error.
// Results are v8.serialize'd, except chunks of small values (numbers, booleans, null,
// undefined, short strings), written in a compact form without v8.serialize.
import { lazy } from '../lazy';
import { native } from '../native';
import { ResultPipe, sendRecord } from '../process/result-pipe';
import {
  ErrorRecord,
  KIND_FALSE,
  KIND_NULL,
  KIND_NUMBER,
  KIND_STRING,
  KIND_TRUE,
  KIND_UNDEFINED,
  ResultRecord,
  decodeSmall,
  errorRecord,
  rebuildError,
} from '../process/wire';
import { STOP } from './schedule';

export const v8 = lazy(() => require('v8') as typeof import('v8'));

/** Record kinds (below 0x80, the format's last-chunk flag). */
const CHUNK_V8 = 1; // v8.serialize(results)
const CHUNK_NUMBERS = 2; // float64 each, in this machine's byte order
const CHUNK_SMALL = 3; // per value: a Process small-value kind, then its bytes
const CHUNK_ERROR = 4; // v8.serialize(ErrorRecord & { index })

/** Strings up to this many UTF-16 units go in the compact form. */
const SMALL_STRING = 1024;

export interface PoolErrorRecord extends ErrorRecord {
  index: number;
}

// ---------------------------------------------------------------------------------------
// Encoding (worker side)

/** The record of a chunk's results: [kind, payload]. Throws DataCloneError like v8.serialize. */
export function encodeResults(values: unknown[]): [number, Buffer] {
  let numbers = true;
  let bytes = 0;
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (typeof value === 'number') {
      bytes += 9;
      continue;
    }
    numbers = false;
    if (value === undefined || value === null || typeof value === 'boolean') bytes += 1;
    else if (typeof value === 'string' && value.length <= SMALL_STRING) bytes += 5 + value.length * 3;
    else return [CHUNK_V8, v8().serialize(values)];
  }
  if (numbers) {
    const array = Float64Array.from(values as number[]);
    return [CHUNK_NUMBERS, Buffer.from(array.buffer, array.byteOffset, array.byteLength)];
  }
  const out = Buffer.allocUnsafe(bytes);
  let at = 0;
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (typeof value === 'number') {
      out[at] = KIND_NUMBER;
      at = out.writeDoubleLE(value, at + 1);
    } else if (typeof value === 'string') {
      out[at] = KIND_STRING;
      const length = out.write(value, at + 5, 'utf8');
      out.writeUInt32LE(length, at + 1);
      at += 5 + length;
    } else {
      out[at++] = value === undefined ? KIND_UNDEFINED : value === null ? KIND_NULL
        : value === true ? KIND_TRUE : KIND_FALSE;
    }
  }
  return [CHUNK_SMALL, out.subarray(0, at)];
}

/** Sends a chunk's results; false when the parent is gone (EPIPE). */
export function sendResults(fd: number, values: unknown[]): boolean {
  const [kind, payload] = encodeResults(values);
  return sendRecord(fd, kind, payload);
}

/** Sends the error of item `index`; false when the parent is gone (EPIPE). */
export function sendError(fd: number, error: unknown, index: number): boolean {
  const record: PoolErrorRecord = { ...errorRecord(error), index };
  return sendRecord(fd, CHUNK_ERROR, v8().serialize(record));
}

// ---------------------------------------------------------------------------------------
// Decoding (parent side)

/** A chunk's outcome: its results, or the error of one of its items (with `index`). */
export type ChunkOutcome = { values: ArrayLike<unknown>; error: null } | { values: null; error: Error };

export function decodeRecord(record: ResultRecord): ChunkOutcome {
  const { kind, payload } = record;
  try {
    switch (kind) {
      case CHUNK_NUMBERS:
        return { values: readDoubles(payload), error: null };
      case CHUNK_SMALL:
        return { values: readSmall(payload), error: null };
      case CHUNK_ERROR: {
        const data = v8().deserialize(payload) as PoolErrorRecord;
        const error = rebuildError(data);
        (error as Error & { index: number }).index = data.index;
        return { values: null, error };
      }
      default:
        return { values: v8().deserialize(payload) as unknown[], error: null };
    }
  } catch (error) {
    return { values: null, error: error instanceof Error ? error : new Error(String(error)) };
  }
}

function readDoubles(payload: Buffer): Float64Array {
  const count = payload.length / 8;
  if (payload.byteOffset % 8 === 0) return new Float64Array(payload.buffer, payload.byteOffset, count);
  const copy = new Float64Array(count);
  new Uint8Array(copy.buffer).set(payload);
  return copy;
}

function readSmall(payload: Buffer): unknown[] {
  const values: unknown[] = [];
  let at = 0;
  while (at < payload.length) {
    const kind = payload[at];
    if (kind === KIND_NUMBER) {
      values.push(payload.readDoubleLE(at + 1));
      at += 9;
    } else if (kind === KIND_STRING) {
      const length = payload.readUInt32LE(at + 1);
      values.push(payload.toString('utf8', at + 5, at + 5 + length));
      at += 5 + length;
    } else {
      values.push(decodeSmall(kind, payload));
      at += 1;
    }
  }
  return values;
}

// ---------------------------------------------------------------------------------------
// The result pipe of this process's pools, made at the first call. A fork child inherits the
// parent's, whose reading side is the parent's (fork() stops it in the child): a process uses
// only a pipe it made itself, told by the fork generation.

type Receiver = (record: ResultRecord) => void;

let resultPipe: ResultPipe | null = null;
let pipeGeneration = -1;
const receivers = new Map<number, Receiver>();

export function poolPipe(): ResultPipe {
  const generation = native.forkGeneration();
  if (resultPipe === null || pipeGeneration !== generation) {
    receivers.clear();
    resultPipe = new ResultPipe((pid, record) => receivers.get(pid)?.(record));
    pipeGeneration = generation;
  }
  return resultPipe;
}

/** The pipe this process made, if any (not one inherited from a parent). */
export function ownPoolPipe(): ResultPipe | null {
  return resultPipe !== null && pipeGeneration === native.forkGeneration() ? resultPipe : null;
}

export function receive(pid: number, receiver: Receiver): void {
  receivers.set(pid, receiver);
}

export function stopReceiving(pid: number): void {
  receivers.delete(pid);
  resultPipe?.forget(pid);
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
