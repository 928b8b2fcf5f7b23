// Pool's pure logic, in process: chunk planning and hand-out, the result encoding
// (its options: pool-options.unit.test.ts).
import { decodeRecord, encodeResults } from '../src/pool/channel';
import { Dispatcher, PREFETCH, STOP, chunkEnd, chunkStart, planChunks, workerCount } from '../src/pool/schedule';

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
