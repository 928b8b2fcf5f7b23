// Pool's pure logic, in process: chunk planning and hand-out, the result format
// (its options: pool-options.unit.test.ts).
import { defaultChunksize } from '../src/pool/options';
import {
  Dispatcher,
  PREFETCH,
  STOP,
  chunkEnd,
  chunkStart,
  planChunks,
  planGuided,
  workerCount,
} from '../src/pool/schedule';
import {
  FLOAT64,
  INT32,
  PIECE_DATA,
  PIPE_BUF,
  PieceReader,
  RecordDecoder,
  SMALL,
  V8,
  recordKind,
  writeError,
  writeResults,
} from '../src/pool/wire';

describe('chunks', () => {
  test('plan and bounds cover every item once', () => {
    const plan = planChunks(10, 3);
    expect(plan.count).toBe(4);
    const bounds = Array.from({ length: plan.count }, (_, c) => [
      chunkStart(plan, c),
      chunkEnd(plan, c),
    ]);
    expect(bounds).toEqual([
      [0, 3],
      [3, 6],
      [6, 9],
      [9, 10],
    ]);
    expect(workerCount(plan, 8)).toBe(4);
    expect(workerCount(plan, 2)).toBe(2);
    expect(planChunks(0, 5).count).toBe(0);
  });

  test('the default plan: chunks shrink from the largest to 1/16 of it, covering every item once', () => {
    for (const [length, processes] of [
      [200, 2],
      [100000, 2],
      [17, 4],
      [1, 3],
      [0, 2],
      [5, 8],
    ]) {
      const largest = defaultChunksize(length, processes);
      const plan = planGuided(length, processes, largest);
      const sizes = Array.from(
        { length: plan.count },
        (_, c) => chunkEnd(plan, c) - chunkStart(plan, c),
      );
      expect(sizes.reduce((a, b) => a + b, 0)).toBe(length);
      if (length === 0) continue;
      expect(chunkStart(plan, 0)).toBe(0);
      expect(chunkEnd(plan, plan.count - 1)).toBe(length);
      expect(sizes[0]).toBe(largest);
      for (let c = 1; c < sizes.length; c++) expect(sizes[c]).toBeLessThanOrEqual(sizes[c - 1]);
      const smallest = Math.ceil(largest / 16);
      expect(sizes.slice(0, -1).every((size) => size >= smallest)).toBe(true);
    }
    // 200 items of equal cost on 2 workers: the last chunks are of 1 or 2 items, not 25.
    const plan = planGuided(200, 2, defaultChunksize(200, 2));
    expect(chunkEnd(plan, plan.count - 1) - chunkStart(plan, plan.count - 1)).toBeLessThanOrEqual(
      2,
    );
  });

  test('every worker gets a first chunk before any gets a second; each chunk once; STOP to all', () => {
    const plan = planChunks(20, 2); // 10 chunks
    const d = new Dispatcher(plan);
    const written = new Map<number, number[]>();
    for (const id of [1, 2, 3]) written.set(id, d.add(id));
    expect([...written.values()]).toEqual([[0], [1], [2]]);
    for (const id of [1, 2, 3]) written.get(id)!.push(...d.topUp(id));
    expect(written.get(1)).toEqual([0, 3]);
    expect(d.queued(1)).toHaveLength(PREFETCH);
    // Results come back in an arbitrary order of workers.
    const order = [2, 2, 1, 3, 3, 3, 1, 2, 1, 2];
    const finished: number[] = [];
    for (const id of order) {
      const more: number[] = [];
      finished.push(d.done(id, more));
      written.get(id)!.push(...more);
    }
    expect([...finished].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const chunks = [...written.values()]
      .flat()
      .filter((c) => c !== STOP)
      .sort((a, b) => a - b);
    expect(chunks).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    for (const list of written.values()) {
      expect(list.filter((c) => c === STOP)).toHaveLength(1);
      expect(list[list.length - 1]).toBe(STOP);
    }
    expect(d.remaining).toBe(0);
  });

  test('a worker added when no chunk is left gets STOP only; a removed worker gives back its queue', () => {
    const d = new Dispatcher(planChunks(1, 1));
    expect(d.add(1)).toEqual([0, STOP]);
    expect(d.add(2)).toEqual([STOP]);
    expect(d.remove(1)).toEqual([0]);
    expect(d.done(1, [])).toBe(-1);
  });
});

describe('result records', () => {
  /** The pieces a worker writes for each record, one Buffer per write(). */
  function written(records: ((write: (piece: Buffer) => boolean) => void)[]): Buffer[] {
    const pieces: Buffer[] = [];
    for (const record of records)
      record((piece) => {
        expect(piece.length).toBeLessThanOrEqual(PIPE_BUF);
        pieces.push(Buffer.from(piece));
        return true;
      });
    return pieces;
  }

  /** Feeds `stream` in reads of `sizes` (cycled) and collects each pid's records. */
  function read(stream: Buffer, sizes: number[]) {
    const out = new Map<number, { values: unknown[]; error: Error | null }[]>();
    const decoders = new Map<number, RecordDecoder>();
    const decoderOf = (pid: number) => {
      let decoder = decoders.get(pid);
      if (decoder === undefined) {
        let array: unknown[] = [];
        decoder = new RecordDecoder({
          slot: (count) => {
            array = new Array<unknown>(count + 2).fill('untouched');
            return { array, offset: 2 };
          },
          done: (error) => {
            const list = out.get(pid) ?? [];
            list.push({ values: error === null ? array.slice(2) : [], error });
            out.set(pid, list);
          },
        });
        decoders.set(pid, decoder);
      }
      return decoder;
    };
    const reader = new PieceReader((pid, flags, data) => decoderOf(pid).piece(flags, data));
    for (let at = 0, i = 0; at < stream.length; i++) {
      const size = sizes[i % sizes.length];
      reader.feed(stream.subarray(at, at + size));
      at += size;
    }
    return out;
  }

  const roundTrip = (values: unknown[], sizes = [65536]) => {
    const pieces = written([(w) => writeResults(values, values.length, 7, w)]);
    const records = read(Buffer.concat(pieces), sizes).get(7) ?? [];
    expect(records).toHaveLength(1);
    return records[0].values;
  };

  test('the kind follows the values: int32, float64, small, anything else', () => {
    expect(recordKind([1, -2, 2 ** 31 - 1], 3)).toBe(INT32);
    expect(recordKind([1, -0], 2)).toBe(FLOAT64);
    expect(recordKind([1, 0.5], 2)).toBe(FLOAT64);
    expect(recordKind([2 ** 31], 1)).toBe(FLOAT64);
    expect(recordKind([1, 'a', null, undefined, true], 5)).toBe(SMALL);
    expect(recordKind([1, 'x'.repeat(2000)], 2)).toBe(V8);
    expect(recordKind([{}], 1)).toBe(V8);
    expect(recordKind([{}, 1], 1)).toBe(V8);
    expect(recordKind([1, {}], 1)).toBe(INT32); // only the first `count` values count
  });

  test('numbers, small values and anything else come back equal', () => {
    expect(roundTrip([1, -2, 0, 2 ** 31 - 1, -(2 ** 31)])).toEqual([
      1,
      -2,
      0,
      2 ** 31 - 1,
      -(2 ** 31),
    ]);
    const doubles = roundTrip([1, -0, NaN, 1e300, Infinity]);
    expect(doubles).toEqual([1, -0, NaN, 1e300, Infinity]);
    expect(Object.is(doubles[1], -0)).toBe(true);
    const small = [1, 'é😀', '', null, undefined, true, false, 0.5];
    expect(roundTrip(small)).toEqual(small);
    const rich = [{ a: [1] }, [2, 'x'], 5n, 'x'.repeat(5000)];
    expect(roundTrip(rich)).toEqual(rich);
    expect(roundTrip([])).toEqual([]);
  });

  test('records of many pieces, read in any cut, come back whole; pieces of workers interleave', () => {
    const ints = Array.from({ length: 5000 }, (_, i) => i * 3 - 7000);
    const doubles = Array.from({ length: 3001 }, (_, i) => i / 3);
    const strings = Array.from({ length: 900 }, (_, i) => `item ${i} ${'é'.repeat(i % 7)}`);
    const pieces = {
      a: written([
        (w) => writeResults(ints, ints.length, 1, w),
        (w) => writeResults(doubles, doubles.length, 1, w),
      ]),
      b: written([
        (w) => writeResults(strings, strings.length, 2, w),
        (w) => writeError(new RangeError('no'), 41, 2, w),
      ]),
    };
    // Each piece holds whole numbers, and the pieces are as full as they may be.
    expect(pieces.a.length).toBe(
      Math.ceil((ints.length * 4 + 8) / PIECE_DATA) +
        Math.ceil((doubles.length * 8 + 8) / PIECE_DATA),
    );
    const mixed: Buffer[] = [];
    for (let i = 0; i < Math.max(pieces.a.length, pieces.b.length); i++) {
      if (i < pieces.a.length) mixed.push(pieces.a[i]);
      if (i < pieces.b.length) mixed.push(pieces.b[i]);
    }
    const stream = Buffer.concat(mixed);
    for (const sizes of [
      [stream.length],
      [1],
      [3, 5, 7],
      [4096],
      [4095, 2],
      [PIPE_BUF + 1, 9000],
    ]) {
      const out = read(stream, sizes);
      const a = out.get(1)!;
      expect(a.map((r) => r.error)).toEqual([null, null]);
      expect(a[0].values).toEqual(ints);
      expect(a[1].values).toEqual(doubles);
      const b = out.get(2)!;
      expect(b[0].values).toEqual(strings);
      expect(b[1].error).toBeInstanceOf(Error);
      expect(b[1].error).toMatchObject({ name: 'RangeError', message: 'no', index: 41 });
      expect(b[1].error!.stack).toMatch(/RangeError: no/);
    }
  });

  test('a record stops at the first piece the reader refuses (EPIPE)', () => {
    let writes = 0;
    expect(
      writeResults(
        Array.from({ length: 5000 }, (_, i) => i),
        5000,
        1,
        () => ++writes < 2,
      ),
    ).toBe(false);
    expect(writes).toBe(2);
  });

  test('an uncloneable value throws as v8.serialize does', () => {
    expect(() => writeResults([() => 1], 1, 1, () => true)).toThrow(/could not be cloned/);
  });
});
