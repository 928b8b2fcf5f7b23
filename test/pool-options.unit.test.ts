// Pool's options and arguments (src/pool/options.ts), in-process: normal forms, defaults and
// refusals, and Python's default chunksize.
import { readOptions } from '../src/args';
import {
  MAP_OPTIONS,
  MAX_CHUNKSIZE,
  MAX_PROCESSES,
  PMAP_OPTIONS,
  POOL_OPTIONS,
  checkArgumentLists,
  checkChunksize,
  checkProcesses,
  checkSignal,
  defaultChunksize,
  defaultProcesses,
  toItems,
} from '../src/pool/options';
import { thrown } from './unit-helpers';

test("default chunksize follows Python's rule: ceil(n / (4 × processes))", () => {
  expect(defaultChunksize(0, 4)).toBe(1);
  expect(defaultChunksize(1, 4)).toBe(1);
  expect(defaultChunksize(16, 4)).toBe(1);
  expect(defaultChunksize(17, 4)).toBe(2);
  expect(defaultChunksize(200, 2)).toBe(25);
  expect(defaultChunksize(201, 2)).toBe(26);
});

test('the option names each call reads (any object; what it inherits is ignored)', () => {
  expect({
    ...readOptions(Object.create({ processes: 0 }), POOL_OPTIONS, 'options', true),
  }).toEqual({});
  expect(readOptions({ processes: 2 }, POOL_OPTIONS)).toEqual(
    Object.assign(Object.create(null), { processes: 2 }),
  );
  expect(thrown(() => readOptions({ chunksize: 2 }, POOL_OPTIONS)).message).toBe(
    'The "options" argument has an unknown property \'chunksize\' (known: processes)',
  );
  expect(() => readOptions({ chunksize: 1, signal: undefined }, MAP_OPTIONS)).not.toThrow();
  expect(() => readOptions({ processes: 1, chunksize: 1 }, PMAP_OPTIONS)).not.toThrow();
});

describe('processes', () => {
  test('undefined: the CPUs available, at least 1, at most MAX_PROCESSES', () => {
    expect(checkProcesses(undefined)).toBe(defaultProcesses());
    expect(defaultProcesses()).toBeGreaterThanOrEqual(1);
    expect(defaultProcesses()).toBeLessThanOrEqual(MAX_PROCESSES);
  });

  test('an integer 1 … MAX_PROCESSES', () => {
    expect(checkProcesses(1)).toBe(1);
    expect(checkProcesses(MAX_PROCESSES)).toBe(MAX_PROCESSES);
    expect(thrown(() => checkProcesses(0))).toEqual({
      name: 'RangeError',
      code: 'ERR_OUT_OF_RANGE',
      message: `The value of "options.processes" is out of range. It must be an integer >= 1 and <= ${MAX_PROCESSES}. Received 0`,
    });
    expect(thrown(() => checkProcesses(MAX_PROCESSES + 1)).code).toBe('ERR_OUT_OF_RANGE');
    expect(thrown(() => checkProcesses(2.5)).code).toBe('ERR_OUT_OF_RANGE');
    expect(thrown(() => checkProcesses('2')).message).toBe(
      'The "options.processes" property must be of type number. Received type string (\'2\')',
    );
    expect(thrown(() => checkProcesses(null, 'processes')).message).toBe(
      'The "processes" argument must be of type number. Received null',
    );
  });
});

test('chunksize: undefined means the default rule, else an integer 1 … MAX_CHUNKSIZE', () => {
  expect(checkChunksize(undefined)).toBeNull();
  expect(checkChunksize(MAX_CHUNKSIZE)).toBe(MAX_CHUNKSIZE);
  expect(thrown(() => checkChunksize(0)).code).toBe('ERR_OUT_OF_RANGE');
  expect(thrown(() => checkChunksize(1.5)).code).toBe('ERR_OUT_OF_RANGE');
  expect(thrown(() => checkChunksize(MAX_CHUNKSIZE + 1)).code).toBe('ERR_OUT_OF_RANGE');
  expect(thrown(() => checkChunksize('1')).code).toBe('ERR_INVALID_ARG_TYPE');
});

test('signal: an AbortSignal or nothing', () => {
  const controller = new AbortController();
  expect(checkSignal(undefined)).toBeNull();
  expect(checkSignal(controller.signal)).toBe(controller.signal);
  expect(thrown(() => checkSignal({ aborted: false })).message).toBe(
    'The "options.signal" property must be an instance of AbortSignal. Received an instance of Object',
  );
});

describe('items', () => {
  test('an array as it is, other iterables read now', () => {
    const array = [1, 2];
    expect(toItems('iterable', array)).toBe(array);
    expect(toItems('iterable', new Set([3, 4]))).toEqual([3, 4]);
    expect(toItems('iterable', 'ab')).toEqual(['a', 'b']);
    function* generate(): Generator<number> {
      yield 5;
      yield 6;
    }
    expect(toItems('iterable', generate())).toEqual([5, 6]);
  });

  test('anything else is ERR_INVALID_ARG_TYPE', () => {
    expect(thrown(() => toItems('iterable', { length: 1 }))).toEqual({
      name: 'TypeError',
      code: 'ERR_INVALID_ARG_TYPE',
      message: 'The "iterable" argument must be an iterable object. Received an instance of Object',
    });
    expect(thrown(() => toItems('iterable', 5)).code).toBe('ERR_INVALID_ARG_TYPE');
    expect(thrown(() => toItems('iterable', null)).code).toBe('ERR_INVALID_ARG_TYPE');
  });

  test('starmap: every item an iterable of arguments, strings refused', () => {
    expect(() => checkArgumentLists([[1, 2], new Set([3])])).not.toThrow();
    expect(thrown(() => checkArgumentLists([[1], 'ab'])).message).toBe(
      'The "iterable[1]" argument must be an iterable of arguments. Received type string (\'ab\')',
    );
    expect(thrown(() => checkArgumentLists([5])).code).toBe('ERR_INVALID_ARG_TYPE');
  });
});
