// Process's result record format, in process: the small-value fast path, the chunking into
// PIPE_BUF pieces and their reassembly by the reader, and what crosses for a thrown value.
import { serialize, deserialize } from 'v8';
import {
  CHUNK_DATA,
  CHUNK_HEADER,
  ErrorRecord,
  KIND_ERROR,
  KIND_RESULT,
  LAST_CHUNK,
  PIPE_BUF,
  RecordAssembler,
  ResultRecord,
  decodeSmall,
  encodeChunks,
  encodeSmall,
  errorRecord,
  rebuildError,
} from '../src/process/wire';

interface Delivered extends ResultRecord {
  pid: number;
}

function reader(): { records: Delivered[]; assembler: RecordAssembler } {
  const records: Delivered[] = [];
  const assembler = new RecordAssembler((pid, record) => records.push({ pid, ...record }));
  return { records, assembler };
}

/** The chunks of an encoded record, as the writer sends them (PIPE_BUF bytes at a time). */
function chunksOf(encoded: Buffer): Buffer[] {
  const chunks: Buffer[] = [];
  for (let at = 0; at < encoded.length; at += PIPE_BUF)
    chunks.push(encoded.subarray(at, at + PIPE_BUF));
  return chunks;
}

describe('small values', () => {
  const longest = 'x'.repeat(Math.floor(CHUNK_DATA / 3));
  const values: unknown[] = [
    undefined,
    null,
    true,
    false,
    0,
    -0,
    1,
    -1,
    0.5,
    2 ** 53 + 2,
    -1e300,
    Number.MIN_VALUE,
    Number.MAX_VALUE,
    NaN,
    Infinity,
    -Infinity,
    '',
    'abc',
    'héllo wörld',
    '日本語のテキスト',
    'emoji 🎉 and ✓',
    longest,
  ];

  const label = (value: unknown): string =>
    value === longest
      ? `'x' × ${longest.length}`
      : typeof value === 'string'
        ? `'${value}'`
        : Object.is(value, -0)
          ? '-0'
          : String(value);

  test.each(values.map((value) => [label(value), value]))(
    '%s round-trips through one chunk',
    (_, value) => {
      const buffer = Buffer.alloc(PIPE_BUF);
      const length = encodeSmall(value, 4321, buffer);
      expect(length).toBeGreaterThanOrEqual(CHUNK_HEADER);
      expect(length).toBeLessThanOrEqual(PIPE_BUF);
      expect(buffer.readUInt32LE(0)).toBe(4321);
      expect(buffer[4] & LAST_CHUNK).toBe(LAST_CHUNK);
      expect(buffer.readUInt16LE(5)).toBe(length - CHUNK_HEADER);
      const kind = buffer[4] & ~LAST_CHUNK;
      expect(Object.is(decodeSmall(kind, buffer.subarray(CHUNK_HEADER, length)), value)).toBe(true);

      const { records, assembler } = reader();
      assembler.feed(Buffer.from(buffer.subarray(0, length)));
      expect(records).toHaveLength(1);
      expect(records[0].pid).toBe(4321);
      expect(records[0].kind).toBe(kind);
      expect(Object.is(decodeSmall(records[0].kind, records[0].payload), value)).toBe(true);
    },
  );

  test('each small value has its own kind, below the last-chunk flag', () => {
    const buffer = Buffer.alloc(PIPE_BUF);
    const kinds = [undefined, null, true, false, 1, 'a'].map((value) => {
      encodeSmall(value, 1, buffer);
      return buffer[4] & ~LAST_CHUNK;
    });
    expect(new Set(kinds).size).toBe(6);
    for (const kind of kinds) {
      expect(kind).toBeLessThan(LAST_CHUNK);
      expect([KIND_RESULT, KIND_ERROR]).not.toContain(kind);
    }
  });

  test('other values are left to v8.serialize (-1, nothing written)', () => {
    const buffer = Buffer.alloc(PIPE_BUF);
    const others: unknown[] = [
      {},
      [],
      [1],
      new Date(0),
      1n,
      Symbol('s'),
      () => 1,
      new Map(),
      Buffer.from('x'),
      'x'.repeat(Math.floor(CHUNK_DATA / 3) + 1),
    ];
    for (const value of others) expect(encodeSmall(value, 1, buffer)).toBe(-1);
    expect(buffer.equals(Buffer.alloc(PIPE_BUF))).toBe(true);
  });
});

describe('chunks', () => {
  const payload = Buffer.from(
    Array.from({ length: 3 * CHUNK_DATA + 100 }, (_, i) => (i * 7) & 0xff),
  );

  test('a large payload is cut into chunks of at most PIPE_BUF bytes, the last one flagged', () => {
    const encoded = encodeChunks(99, KIND_RESULT, payload);
    const chunks = chunksOf(encoded);
    expect(chunks).toHaveLength(4);
    expect(encoded.length).toBe(payload.length + 4 * CHUNK_HEADER);
    chunks.forEach((chunk, i) => {
      const last = i === chunks.length - 1;
      expect(chunk.length).toBeLessThanOrEqual(PIPE_BUF);
      expect(chunk.readUInt32LE(0)).toBe(99);
      expect(chunk[4]).toBe(KIND_RESULT | (last ? LAST_CHUNK : 0));
      expect(chunk.readUInt16LE(5)).toBe(last ? 100 : CHUNK_DATA);
      expect(chunk.length).toBe(CHUNK_HEADER + chunk.readUInt16LE(5));
    });
  });

  test('the reader reassembles a record fed in pieces of any size', () => {
    const encoded = encodeChunks(99, KIND_RESULT, payload);
    for (const size of [3, 7, 1000, PIPE_BUF, PIPE_BUF + 1, encoded.length]) {
      const { records, assembler } = reader();
      for (let at = 0; at < encoded.length; at += size) {
        assembler.feed(Buffer.from(encoded.subarray(at, at + size)));
        if (at + size < encoded.length) expect(records).toHaveLength(0);
      }
      expect(records).toHaveLength(1);
      expect(records[0].pid).toBe(99);
      expect(records[0].kind).toBe(KIND_RESULT);
      expect(records[0].payload.equals(payload)).toBe(true);
    }
  });

  test('chunks of children writing at the same time are told apart by pid', () => {
    const other = Buffer.alloc(2 * CHUNK_DATA, 0xab);
    const a = chunksOf(encodeChunks(10, KIND_RESULT, payload));
    const b = chunksOf(encodeChunks(20, KIND_ERROR, other));
    const { records, assembler } = reader();
    assembler.feed(Buffer.concat([a[0], b[0], a[1], a[2], b[1], a[3]]));
    expect(records.map((r) => [r.pid, r.kind])).toEqual([
      [20, KIND_ERROR],
      [10, KIND_RESULT],
    ]);
    expect(records[0].payload.equals(other)).toBe(true);
    expect(records[1].payload.equals(payload)).toBe(true);
  });

  test('an empty payload is one empty, final chunk', () => {
    const encoded = encodeChunks(5, KIND_RESULT, Buffer.alloc(0));
    expect(encoded.length).toBe(CHUNK_HEADER);
    const { records, assembler } = reader();
    assembler.feed(encoded);
    expect(records).toHaveLength(1);
    expect(records[0].payload.length).toBe(0);
  });

  test('a v8.serialize record survives the trip', () => {
    const value = { list: [1, 2, 3], text: 'ü'.repeat(10000), nested: { at: new Date(5) } };
    const { records, assembler } = reader();
    assembler.feed(encodeChunks(7, KIND_RESULT, serialize(value)));
    expect(deserialize(records[0].payload)).toEqual(value);
  });

  test('forget() drops the unfinished record of a child killed while writing', () => {
    const [first] = chunksOf(encodeChunks(30, KIND_RESULT, payload));
    const { records, assembler } = reader();
    assembler.feed(first);
    assembler.forget(30);
    const fresh = Buffer.from('later');
    assembler.feed(encodeChunks(30, KIND_RESULT, fresh)); // the pid, reused
    expect(records).toHaveLength(1);
    expect(records[0].payload.equals(fresh)).toBe(true);
  });
});

describe('errors', () => {
  /** What the parent gets for `thrown`: the record crosses the pipe v8.serialize'd. */
  function acrossThePipe(thrown: unknown): Error {
    return rebuildError(deserialize(serialize(errorRecord(thrown))) as ErrorRecord);
  }

  test('name, message, stack and a string code are kept', () => {
    const error = Object.assign(new TypeError('bad thing'), { code: 'ERR_BAD' });
    const rebuilt = acrossThePipe(error);
    expect(rebuilt).toBeInstanceOf(Error);
    expect(rebuilt.name).toBe('TypeError');
    expect(rebuilt.message).toBe('bad thing');
    expect(rebuilt.stack).toBe(error.stack);
    expect((rebuilt as NodeJS.ErrnoException).code).toBe('ERR_BAD');
    expect(Object.keys(rebuilt)).toEqual(['code']); // name stays non-enumerable, as on any Error
  });

  test('a numeric code becomes a string; other codes and custom properties stay behind', () => {
    const numeric = Object.assign(new Error('n'), { code: 42, detail: { a: 1 } });
    expect((acrossThePipe(numeric) as NodeJS.ErrnoException).code).toBe('42');
    expect(acrossThePipe(numeric)).not.toHaveProperty('detail');
    const objectCode = Object.assign(new Error('o'), { code: { not: 'kept' } });
    expect(acrossThePipe(objectCode)).not.toHaveProperty('code');
  });

  test('a subclass keeps its name, not its class', () => {
    class CustomError extends Error {
      override name = 'CustomError';
      extra = 1;
    }
    const rebuilt = acrossThePipe(new CustomError('custom'));
    expect(rebuilt.name).toBe('CustomError');
    expect(rebuilt.constructor).toBe(Error);
    expect(rebuilt).not.toHaveProperty('extra');
  });

  test('thrown values that are not errors', () => {
    expect(errorRecord('plain text')).toEqual({ name: 'Error', message: 'plain text' });
    expect(errorRecord(42)).toEqual({ name: 'Error', message: '42' });
    expect(errorRecord(undefined)).toEqual({ name: 'Error', message: 'undefined' });
    expect(errorRecord({ a: 1 })).toEqual({ name: 'Error', message: '{ a: 1 }' });
    expect(errorRecord({ name: 'Like', message: 'an error' })).toEqual({
      name: 'Like',
      message: 'an error',
    });
  });

  test('a value whose properties throw is still described', () => {
    const hostile = {
      get message(): string {
        throw new Error('boom');
      },
    };
    expect(errorRecord(hostile)).toEqual({
      name: 'Error',
      message: 'the thrown value could not be described (Error: boom)',
    });
  });

  test('without a stack, the rebuilt stack is "name: message"', () => {
    const rebuilt = rebuildError({ name: 'RangeError', message: 'too far' });
    expect(rebuilt.stack).toBe('RangeError: too far');
    expect(rebuilt).not.toHaveProperty('code');
  });
});
