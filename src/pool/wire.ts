// The format of a chunk's outcome on the pool's result pipe, shared by every worker of the
// process's pools.
//
// A record travels as pieces of at most PIPE_BUF bytes, each one write(): POSIX makes such a
// write atomic, so pieces of workers writing at the same time never mix.
//   piece:  [pid u32][flags u8][length u16][data]        flags: FIRST_PIECE, LAST_PIECE
//   record: [kind u8][0 0 0][count u32][payload]         the first piece's data starts with it
// Numbers (INT32, FLOAT64) go in pieces that hold whole values, so the parent decodes each piece
// straight into the caller's result array as it arrives; the other kinds are put together first.
// The writer and the reader reuse fixed buffers: after a fork every page either side writes is
// a copy-on-write fault, so neither allocates per item or per piece.
import { lazy } from '../lazy';
import { ErrorRecord, errorRecord, rebuildError } from '../process/wire';

export const v8 = lazy(() => require('v8') as typeof import('v8'));

/** Record kinds. */
export const INT32 = 1; // count int32 LE: every value an int32 (and not -0)
export const FLOAT64 = 2; // count float64 LE: every value a number
export const SMALL = 3; // count bytes: per value a tag, then its bytes
export const V8 = 4; // count bytes: v8.serialize(values)
export const ERROR = 5; // count bytes: v8.serialize(ErrorRecord & { index })

// Tags of SMALL values.
const TAG_UNDEFINED = 0;
const TAG_NULL = 1;
const TAG_TRUE = 2;
const TAG_FALSE = 3;
const TAG_NUMBER = 4; // float64 LE
const TAG_STRING = 5; // length u32, UTF-8

/** Strings up to this many UTF-16 units go in SMALL records. */
const SMALL_STRING = 1024;

export const FIRST_PIECE = 0x40;
export const LAST_PIECE = 0x80;
export const PIECE_HEADER = 7;
export const RECORD_HEADER = 8;
/** PIPE_BUF: 4096 on Linux, 512 on macOS (the POSIX minimum). */
export const PIPE_BUF = process.platform === 'linux' ? 4096 : 512;
/** The most data a piece carries: a multiple of 8, so that numbers never straddle pieces. */
export const PIECE_DATA = Math.floor((PIPE_BUF - PIECE_HEADER) / 8) * 8;

export interface PoolErrorRecord extends ErrorRecord {
  index: number;
}

/** Where pieces go: one write() each; false when the reader is gone (EPIPE). */
export type PieceWriter = (piece: Buffer) => boolean;

// ---------------------------------------------------------------------------------------
// Writing (worker side)

// One piece at a time, built at offset 1 so that its data starts 8-aligned for typed views.
const pieceMemory = new ArrayBuffer(PIPE_BUF + 8);
const piece = Buffer.from(pieceMemory, 1, PIPE_BUF);
const DATA_AT = 1 + PIECE_HEADER;
const pieceInt32 = new Int32Array(pieceMemory, DATA_AT, PIECE_DATA / 4);
const pieceFloat64 = new Float64Array(pieceMemory, DATA_AT, PIECE_DATA / 8);

function isInt32(value: number): boolean {
  return (value | 0) === value && (value !== 0 || 1 / value > 0);
}

/** The kind of `values[0…count)`: INT32, FLOAT64, SMALL, or V8 for anything else. */
export function recordKind(values: ArrayLike<unknown>, count: number): number {
  let kind = INT32;
  for (let i = 0; i < count; i++) {
    const value = values[i];
    if (typeof value === 'number') {
      if (kind === INT32 && !isInt32(value)) kind = FLOAT64;
    } else if (
      value === undefined ||
      value === null ||
      typeof value === 'boolean' ||
      (typeof value === 'string' && value.length <= SMALL_STRING)
    ) {
      kind = SMALL;
    } else {
      return V8;
    }
  }
  return kind;
}

function header(pid: number, flags: number, length: number): void {
  piece.writeUInt32LE(pid, 0);
  piece[4] = flags;
  piece.writeUInt16LE(length, 5);
}

function recordHeader(kind: number, count: number): void {
  piece[PIECE_HEADER] = kind;
  piece[PIECE_HEADER + 1] = 0;
  piece[PIECE_HEADER + 2] = 0;
  piece[PIECE_HEADER + 3] = 0;
  piece.writeUInt32LE(count, PIECE_HEADER + 4);
}

/**
 * Writes the record of the results `values[0…count)`; false when the reader is gone.
 * Throws DataCloneError, as v8.serialize does, for a value that cannot be copied.
 */
export function writeResults(
  values: ArrayLike<unknown>,
  count: number,
  pid: number,
  write: PieceWriter,
): boolean {
  const kind = recordKind(values, count);
  if (kind === INT32 || kind === FLOAT64)
    return writeNumbers(kind, values as ArrayLike<number>, count, pid, write);
  const payload =
    kind === SMALL
      ? encodeSmall(values, count)
      : v8().serialize(Array.prototype.slice.call(values, 0, count));
  return writeBytes(kind, payload, pid, write);
}

/** Writes the error of item `index`; false when the reader is gone. */
export function writeError(
  error: unknown,
  index: number,
  pid: number,
  write: PieceWriter,
): boolean {
  const record: PoolErrorRecord = { ...errorRecord(error), index };
  return writeBytes(ERROR, v8().serialize(record), pid, write);
}

function writeNumbers(
  kind: number,
  values: ArrayLike<number>,
  count: number,
  pid: number,
  write: PieceWriter,
): boolean {
  const size = kind === INT32 ? 4 : 8;
  const view = kind === INT32 ? pieceInt32 : pieceFloat64;
  recordHeader(kind, count);
  let at = 0;
  let flags = FIRST_PIECE;
  let skip = RECORD_HEADER / size; // the first piece's data starts with the record header
  do {
    const n = Math.min(count - at, PIECE_DATA / size - skip);
    for (let i = 0; i < n; i++) view[skip + i] = values[at + i];
    at += n;
    if (at === count) flags |= LAST_PIECE;
    const length = (skip + n) * size;
    header(pid, flags, length);
    if (!write(piece.subarray(0, PIECE_HEADER + length))) return false;
    flags = 0;
    skip = 0;
  } while (at < count);
  return true;
}

function writeBytes(kind: number, payload: Uint8Array, pid: number, write: PieceWriter): boolean {
  recordHeader(kind, payload.length);
  let at = 0;
  let flags = FIRST_PIECE;
  let skip = RECORD_HEADER;
  do {
    const n = Math.min(payload.length - at, PIECE_DATA - skip);
    piece.set(payload.subarray(at, at + n), PIECE_HEADER + skip);
    at += n;
    if (at === payload.length) flags |= LAST_PIECE;
    header(pid, flags, skip + n);
    if (!write(piece.subarray(0, PIECE_HEADER + skip + n))) return false;
    flags = 0;
    skip = 0;
  } while (at < payload.length);
  return true;
}

function encodeSmall(values: ArrayLike<unknown>, count: number): Buffer {
  let bytes = 0;
  for (let i = 0; i < count; i++) {
    const value = values[i];
    if (typeof value === 'number') bytes += 9;
    else if (typeof value === 'string') bytes += 5 + value.length * 3;
    else bytes += 1;
  }
  const out = Buffer.allocUnsafe(bytes);
  let at = 0;
  for (let i = 0; i < count; i++) {
    const value = values[i];
    if (typeof value === 'number') {
      out[at] = TAG_NUMBER;
      at = out.writeDoubleLE(value, at + 1);
    } else if (typeof value === 'string') {
      out[at] = TAG_STRING;
      const length = out.write(value, at + 5, 'utf8');
      out.writeUInt32LE(length, at + 1);
      at += 5 + length;
    } else {
      out[at++] =
        value === undefined
          ? TAG_UNDEFINED
          : value === null
            ? TAG_NULL
            : value === true
              ? TAG_TRUE
              : TAG_FALSE;
    }
  }
  return out.subarray(0, at);
}

// ---------------------------------------------------------------------------------------
// Reading (parent side)

/** Where a record's values go: `array[offset…offset + count)`. */
export interface Slot {
  array: unknown[];
  offset: number;
}

/** What a RecordDecoder reports to: the slot for `count` values; then the record's end. */
export interface RecordSink {
  slot(count: number): Slot;
  /** null: the values are in the slot; else the error of an item (with `index`) or a bad record. */
  done(error: Error | null): void;
}

// Pieces' data copied here to be read through aligned typed views.
const scratch = new ArrayBuffer(PIPE_BUF);
const scratchBytes = new Uint8Array(scratch);
const scratchInt32 = new Int32Array(scratch);
const scratchFloat64 = new Float64Array(scratch);

/** One worker's records, piece by piece. */
export class RecordDecoder {
  private kind = 0;
  private count = 0;
  private received = 0;
  private slot: Slot | null = null;
  private bytes: Buffer | null = null;

  constructor(private readonly sink: RecordSink) {}

  piece(flags: number, data: Buffer): void {
    let from = 0;
    if ((flags & FIRST_PIECE) !== 0) {
      this.kind = data[0];
      this.count = data.readUInt32LE(4);
      this.received = 0;
      this.slot = null;
      this.bytes = null;
      from = RECORD_HEADER;
      if (this.kind === INT32 || this.kind === FLOAT64) this.slot = this.sink.slot(this.count);
      else this.bytes = Buffer.allocUnsafe(this.count);
    }
    if (this.slot !== null) this.numbers(data, from);
    else if (this.bytes !== null) {
      data.copy(this.bytes, this.received, from);
      this.received += data.length - from;
    }
    if ((flags & LAST_PIECE) !== 0) this.finish();
  }

  private numbers(data: Buffer, from: number): void {
    const { array, offset } = this.slot as Slot;
    const at = offset + this.received;
    scratchBytes.set(data.subarray(from));
    if (this.kind === INT32) {
      const n = (data.length - from) >> 2;
      for (let i = 0; i < n; i++) array[at + i] = scratchInt32[i];
      this.received += n;
    } else {
      const n = (data.length - from) >> 3;
      for (let i = 0; i < n; i++) array[at + i] = scratchFloat64[i];
      this.received += n;
    }
  }

  private finish(): void {
    const { kind, bytes } = this;
    this.slot = null;
    this.bytes = null;
    let error: Error | null = null;
    try {
      if (kind === ERROR) error = decodeError(bytes as Buffer);
      else if (kind === SMALL) decodeSmall(bytes as Buffer, this.sink);
      else if (kind === V8) copyInto(v8().deserialize(bytes as Buffer) as unknown[], this.sink);
      else if (kind !== INT32 && kind !== FLOAT64)
        error = new Error(`pool result record of unknown kind ${kind}`);
    } catch (thrown) {
      error = thrown instanceof Error ? thrown : new Error(String(thrown));
    }
    this.sink.done(error);
  }
}

function decodeError(bytes: Buffer): Error {
  const record = v8().deserialize(bytes) as PoolErrorRecord;
  return Object.assign(rebuildError(record), { index: record.index });
}

function copyInto(values: unknown[], sink: RecordSink): void {
  const { array, offset } = sink.slot(values.length);
  for (let i = 0; i < values.length; i++) array[offset + i] = values[i];
}

function decodeSmall(bytes: Buffer, sink: RecordSink): void {
  let count = 0;
  for (let at = 0; at < bytes.length; count++) {
    const tag = bytes[at];
    at += tag === TAG_NUMBER ? 9 : tag === TAG_STRING ? 5 + bytes.readUInt32LE(at + 1) : 1;
  }
  const { array, offset } = sink.slot(count);
  let at = 0;
  for (let i = 0; i < count; i++) {
    const tag = bytes[at];
    let value: unknown;
    if (tag === TAG_NUMBER) {
      value = bytes.readDoubleLE(at + 1);
      at += 9;
    } else if (tag === TAG_STRING) {
      const length = bytes.readUInt32LE(at + 1);
      value = bytes.toString('utf8', at + 5, at + 5 + length);
      at += 5 + length;
    } else {
      value =
        tag === TAG_NULL ? null : tag === TAG_TRUE ? true : tag === TAG_FALSE ? false : undefined;
      at += 1;
    }
    array[offset + i] = value;
  }
}

/**
 * Cuts a byte stream into pieces, whatever the boundaries of the reads that deliver it: a
 * piece split between two reads is put together in a buffer of its own.
 */
export class PieceReader {
  private readonly partial = Buffer.allocUnsafe(PIPE_BUF);
  private partialLength = 0;

  constructor(private readonly onPiece: (pid: number, flags: number, data: Buffer) => void) {}

  feed(data: Buffer): void {
    let at = 0;
    if (this.partialLength > 0) {
      at = this.completePartial(data);
      if (at < 0) return;
    }
    while (data.length - at >= PIECE_HEADER) {
      const length = data.readUInt16LE(at + 5);
      const end = at + PIECE_HEADER + length;
      if (end > data.length) break;
      this.onPiece(data.readUInt32LE(at), data[at + 4], data.subarray(at + PIECE_HEADER, end));
      at = end;
    }
    if (at < data.length) {
      data.copy(this.partial, 0, at);
      this.partialLength = data.length - at;
    }
  }

  /** Completes the held piece from `data`; where `data`'s own pieces begin, or -1 if it is all taken. */
  private completePartial(data: Buffer): number {
    const partial = this.partial;
    let taken = 0;
    if (this.partialLength < PIECE_HEADER) {
      taken = Math.min(PIECE_HEADER - this.partialLength, data.length);
      data.copy(partial, this.partialLength, 0, taken);
      this.partialLength += taken;
      if (this.partialLength < PIECE_HEADER) return -1;
    }
    const size = PIECE_HEADER + partial.readUInt16LE(5);
    const more = Math.min(size - this.partialLength, data.length - taken);
    data.copy(partial, this.partialLength, taken, taken + more);
    this.partialLength += more;
    taken += more;
    if (this.partialLength < size) return -1;
    this.partialLength = 0;
    this.onPiece(partial.readUInt32LE(0), partial[4], partial.subarray(PIECE_HEADER, size));
    return taken;
  }
}
