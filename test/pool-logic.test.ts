// Pool's pure logic, in process: option checks, chunk planning and hand-out, the result encoding.
import { decodeRecord, encodeResults } from '../src/pool/channel';
import {
  MAX_PROCESSES,
  checkChunksize,
  checkProcesses,
  defaultChunksize,
  defaultProcesses,
  readOptions,
  toItems,
} from '../src/pool/options';
import { Dispatcher, PREFETCH, STOP, chunkEnd, chunkStart, planChunks, workerCount } from '../src/pool/schedule';

describe('options', () => {
  test("default chunksize follows Python's rule: ceil(n / (4 × processes))", () => {
    expect(defaultChunksize(0, 4)).toBe(1);
    expect(defaultChunksize(1, 4)).toBe(1);
    expect(defaultChunksize(16, 4)).toBe(1);
    expect(defaultChunksize(17, 4)).toBe(2);
    expect(defaultChunksize(200, 2)).toBe(25);
    expect(defaultChunksize(201, 2)).toBe(26);
  });

  test('own properties only; unknown keys refused; undefined means the default', () => {
    expect(readOptions(undefined, 'options', ['a'])).toEqual({});
    expect(readOptions(Object.create({ a: 1 }), 'options', ['a'])).toEqual({});
    expect(readOptions({ a: 2 }, 'options', ['a'])).toEqual({ a: 2 });
    expect(() => readOptions({ b: 1 }, 'options', ['a'])).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => readOptions([], 'options', ['a'])).toThrow(TypeError);
    expect(() => readOptions(null, 'options', ['a'])).toThrow(TypeError);
  });

  test('processes and chunksize: integers in range', () => {
    expect(checkProcesses(undefined)).toBe(defaultProcesses());
    expect(defaultProcesses()).toBeGreaterThanOrEqual(1);
    expect(checkProcesses(3)).toBe(3);
    expect(() => checkProcesses(0)).toThrow(RangeError);
    expect(() => checkProcesses(MAX_PROCESSES + 1)).toThrow(RangeError);
    expect(() => checkProcesses('2')).toThrow(TypeError);
    expect(checkChunksize(undefined)).toBeNull();
    expect(() => checkChunksize(1.5)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
  });

  test('items: an array as it is, other iterables read now', () => {
    const array = [1, 2];
    expect(toItems('iterable', array)).toBe(array);
    expect(toItems('iterable', new Set([3, 4]))).toEqual([3, 4]);
    expect(toItems('iterable', 'ab')).toEqual(['a', 'b']);
    expect(() => toItems('iterable', { length: 1 })).toThrow(TypeError);
  });
});

describe('chunks', () => {
  test('plan and bounds cover every item once', () => {
    const plan = planChunks(10, 3);
    expect(plan.count).toBe(4);
    const bounds = Array.from({ length: plan.count }, (_, c) => [chunkStart(plan, c), chunkEnd(plan, c)]);
    expect(bounds).toEqual([[0, 3], [3, 6], [6, 9], [9, 10]]);
    expect(workerCount(plan, 8)).toBe(4);
    expect(workerCount(plan, 2)).toBe(2);
    expect(planChunks(0, 5).count).toBe(0);
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
    const chunks = [...written.values()].flat().filter((c) => c !== STOP).sort((a, b) => a - b);
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
  const roundTrip = (values: unknown[]) => {
    const [kind, payload] = encodeResults(values);
    const outcome = decodeRecord({ kind, payload: Buffer.from(payload) });
    return { kind, values: outcome.values === null ? null : Array.from(outcome.values) };
  };

  test('numbers, small values and anything else come back equal', () => {
    expect(roundTrip([1, -0, NaN, 1e300])).toEqual({ kind: 2, values: [1, -0, NaN, 1e300] });
    const small = [1, 'é😀', '', null, undefined, true, false];
    expect(roundTrip(small)).toEqual({ kind: 3, values: small });
    const rich = [{ a: [1] }, [2, 'x'], 5n];
    expect(roundTrip(rich)).toEqual({ kind: 1, values: rich });
    expect(roundTrip(['x'.repeat(5000)]).kind).toBe(1);
  });

  test('an uncloneable value throws as v8.serialize does', () => {
    expect(() => encodeResults([() => 1])).toThrow(/could not be cloned/);
  });
});
