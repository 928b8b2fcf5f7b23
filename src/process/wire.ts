// The result record format, shared by Process and Pool. A child sends one record (its result or
// its error) through a pipe shared with its siblings, cut into chunks of at most PIPE_BUF bytes,
// each [pid u32 LE][flags u8][length u16 LE][data]. POSIX makes a write of at most PIPE_BUF
// bytes to a pipe atomic, so chunks of children writing at the same time never mix; the pid
// tells whose chunk it is, and the flag LAST_CHUNK ends a record. The flags' low 7 bits are the
// record's kind. Everything here works on buffers; result-pipe.ts moves them through the pipe.
import { inspect } from 'util';
import { lazy } from '../lazy';

/** v8, for the records of other values; one loader for all of Process, called in the warm-up. */
export const v8 = lazy(() => require('v8') as typeof import('v8'));

export const KIND_RESULT = 1; // v8.serialize(result)
export const KIND_ERROR = 2; // v8.serialize(ErrorRecord)
// Common small results, written without v8.serialize (whose first use costs a child a compile).
export const KIND_UNDEFINED = 3;
export const KIND_NULL = 4;
export const KIND_TRUE = 5;
export const KIND_FALSE = 6;
export const KIND_NUMBER = 7; // float64 LE
export const KIND_STRING = 8; // UTF-8

export const LAST_CHUNK = 0x80;
export const CHUNK_HEADER = 7;
/** PIPE_BUF: 4096 on Linux, 512 on macOS (the POSIX minimum). */
export const PIPE_BUF = process.platform === 'linux' ? 4096 : 512;
/** The most data one chunk carries. */
export const CHUNK_DATA = PIPE_BUF - CHUNK_HEADER;

/** What crosses the pipe of a thrown value: enough to rebuild an Error in the parent. */
export interface ErrorRecord {
  name: string;
  message: string;
  stack?: string;
  code?: string | number;
}

/** One whole record, as reassembled from its chunks. */
export interface ResultRecord {
  kind: number;
  payload: Buffer;
}

/** The ErrorRecord of any thrown value; never throws (a hostile getter becomes the message). */
export function errorRecord(error: unknown): ErrorRecord {
  const record: ErrorRecord = { name: 'Error', message: '' };
  try {
    if (
      error instanceof Error ||
      (typeof error === 'object' && error !== null && 'message' in error)
    ) {
      const e = error as Error & { code?: unknown };
      record.name = String(e.name ?? 'Error');
      record.message = String(e.message ?? '');
      if (typeof e.stack === 'string') record.stack = e.stack;
      if (typeof e.code === 'string' || typeof e.code === 'number') record.code = e.code;
    } else {
      record.message = typeof error === 'string' ? error : inspect(error);
    }
  } catch (inner) {
    record.message = `the thrown value could not be described (${String(inner)})`;
  }
  return record;
}

/** The parent's Error for a record: same name, message, stack and code (as a string). */
export function rebuildError(record: ErrorRecord): Error {
  const error = new Error(record.message);
  Object.defineProperty(error, 'name', {
    value: record.name,
    writable: true,
    enumerable: false,
    configurable: true,
  });
  error.stack = record.stack ?? `${record.name}: ${record.message}`;
  if (record.code !== undefined) (error as NodeJS.ErrnoException).code = String(record.code);
  return error;
}

/**
 * Writes the one-chunk record of a small result (undefined, null, a boolean, a number, a
 * string that surely fits) into `into`, from offset 0; returns its length, or -1 when the value
 * needs v8.serialize. `into` must hold PIPE_BUF bytes.
 */
export function encodeSmall(value: unknown, pid: number, into: Buffer): number {
  let kind: number;
  let length = 0;
  if (value === undefined) kind = KIND_UNDEFINED;
  else if (value === null) kind = KIND_NULL;
  else if (value === true) kind = KIND_TRUE;
  else if (value === false) kind = KIND_FALSE;
  else if (typeof value === 'number') {
    kind = KIND_NUMBER;
    length = into.writeDoubleLE(value, CHUNK_HEADER) - CHUNK_HEADER;
  } else if (typeof value === 'string' && value.length * 3 <= CHUNK_DATA) {
    kind = KIND_STRING;
    length = into.write(value, CHUNK_HEADER, 'utf8');
  } else {
    return -1;
  }
  into.writeUInt32LE(pid, 0);
  into[4] = kind | LAST_CHUNK;
  into.writeUInt16LE(length, 5);
  return CHUNK_HEADER + length;
}

/** The value of a small record's payload (the inverse of encodeSmall). */
export function decodeSmall(kind: number, payload: Buffer): unknown {
  switch (kind) {
    case KIND_NULL:
      return null;
    case KIND_TRUE:
      return true;
    case KIND_FALSE:
      return false;
    case KIND_NUMBER:
      return payload.readDoubleLE(0);
    case KIND_STRING:
      return payload.toString('utf8');
    default:
      return undefined;
  }
}

/**
 * The whole record of `payload`, as chunks laid end to end: chunk i starts at i * PIPE_BUF,
 * so the writer sends it PIPE_BUF bytes at a time. An empty payload is one empty chunk.
 */
export function encodeChunks(pid: number, kind: number, payload: Buffer): Buffer {
  const count = Math.max(1, Math.ceil(payload.length / CHUNK_DATA));
  const out = Buffer.allocUnsafe(payload.length + count * CHUNK_HEADER);
  for (let i = 0; i < count; i++) {
    const from = i * CHUNK_DATA;
    const length = Math.min(CHUNK_DATA, payload.length - from);
    const at = i * PIPE_BUF;
    out.writeUInt32LE(pid, at);
    out[at + 4] = kind | (i === count - 1 ? LAST_CHUNK : 0);
    out.writeUInt16LE(length, at + 5);
    payload.copy(out, at + CHUNK_HEADER, from, from + length);
  }
  return out;
}

/**
 * The reader's half of the format: takes the pipe's bytes as they come, in pieces of any size,
 * and hands each complete record to `deliver` with its sender's pid.
 */
export class RecordAssembler {
  private leftover: Buffer | null = null;
  private readonly partial = new Map<number, Buffer[]>();

  constructor(private readonly deliver: (pid: number, record: ResultRecord) => void) {}

  feed(data: Buffer): void {
    const buffer = this.leftover === null ? data : Buffer.concat([this.leftover, data]);
    let at = 0;
    while (buffer.length - at >= CHUNK_HEADER) {
      const length = buffer.readUInt16LE(at + 5);
      if (buffer.length - at < CHUNK_HEADER + length) break;
      const pid = buffer.readUInt32LE(at);
      const flags = buffer[at + 4];
      const piece = Buffer.from(buffer.subarray(at + CHUNK_HEADER, at + CHUNK_HEADER + length));
      at += CHUNK_HEADER + length;
      const earlier = this.partial.get(pid);
      if ((flags & LAST_CHUNK) === 0) {
        if (earlier === undefined) this.partial.set(pid, [piece]);
        else earlier.push(piece);
        continue;
      }
      this.partial.delete(pid);
      const payload = earlier === undefined ? piece : Buffer.concat([...earlier, piece]);
      this.deliver(pid, { kind: flags & ~LAST_CHUNK, payload });
    }
    this.leftover = at < buffer.length ? Buffer.from(buffer.subarray(at)) : null;
  }

  /** Drops the unfinished record of `pid` (its sender was killed while writing). */
  forget(pid: number): void {
    this.partial.delete(pid);
  }
}
