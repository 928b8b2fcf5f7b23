// Process's argument checks, in process: the options object, join timeouts, and the class's
// own argument errors (nothing here forks).
import { Process } from '../src/process';
import { MAX_TIMEOUT_MS, checkProcessOptions, checkTimeout } from '../src/process/options';

const typeError = (code: string, message?: string) =>
  expect.objectContaining({
    name: 'TypeError',
    code,
    ...(message === undefined ? {} : { message }),
  });
const rangeError = (message?: string) =>
  expect.objectContaining({
    name: 'RangeError',
    code: 'ERR_OUT_OF_RANGE',
    ...(message === undefined ? {} : { message }),
  });

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('did not throw');
}

describe('options', () => {
  const none = { target: null, args: [], name: null, daemon: null };

  test('no options, empty options and nulls all mean the defaults', () => {
    expect(checkProcessOptions(undefined)).toEqual(none);
    expect(checkProcessOptions({})).toEqual(none);
    expect(checkProcessOptions(Object.create(null))).toEqual(none);
    expect(checkProcessOptions({ target: null, args: null, name: null, daemon: null })).toEqual(
      none,
    );
    expect(checkProcessOptions({ target: undefined, args: undefined })).toEqual(none);
  });

  test('values pass through; args is copied', () => {
    const target = (a: number) => a;
    const args = [1, { two: 2 }];
    const checked = checkProcessOptions({ target, args, name: 'worker', daemon: true });
    expect(checked.target).toBe(target);
    expect(checked.args).toEqual(args);
    expect(checked.args).not.toBe(args);
    expect(checked.args[1]).toBe(args[1]); // a shallow copy: the child gets the objects themselves
    expect(checked.name).toBe('worker');
    expect(checked.daemon).toBe(true);
    expect(checkProcessOptions({ daemon: false, name: '' })).toMatchObject({
      daemon: false,
      name: '',
    });
  });

  test('the options argument must be a plain object', () => {
    for (const value of [
      null,
      1,
      'x',
      true,
      [],
      new Date(),
      new Map(),
      () => undefined,
      Object.create({}),
    ]) {
      expect(thrown(() => checkProcessOptions(value))).toEqual(typeError('ERR_INVALID_ARG_TYPE'));
    }
    expect(thrown(() => checkProcessOptions(null))).toEqual(
      typeError(
        'ERR_INVALID_ARG_TYPE',
        'The "options" argument must be a plain object. Received null',
      ),
    );
  });

  test('each option has its type', () => {
    const cases: [string, unknown, string][] = [
      ['target', 1, 'of type function'],
      ['target', 'fn', 'of type function'],
      ['args', 'a', 'an instance of Array'],
      ['args', { length: 0 }, 'an instance of Array'],
      ['name', 5, 'of type string'],
      ['name', Symbol('s'), 'of type string'],
      ['daemon', 'yes', 'of type boolean'],
      ['daemon', 0, 'of type boolean'],
    ];
    for (const [key, value, expected] of cases) {
      const error = thrown(() => checkProcessOptions({ [key]: value }));
      expect(error).toEqual(typeError('ERR_INVALID_ARG_TYPE'));
      expect((error as Error).message).toMatch(
        `The "options.${key}" property must be ${expected}. Received `,
      );
    }
  });

  test('unknown keys are refused, naming the known ones', () => {
    expect(thrown(() => checkProcessOptions({ targt: () => 1 }))).toEqual(
      typeError(
        'ERR_INVALID_ARG_VALUE',
        'The "options" argument has an unknown property \'targt\' (known: target, args, name, daemon)',
      ),
    );
  });

  test('own properties only: Object.prototype changes nothing', () => {
    const proto = Object.prototype as Record<string, unknown>;
    proto.daemon = 'not a boolean';
    proto.target = 42;
    try {
      expect(checkProcessOptions({})).toEqual(none);
      expect(checkProcessOptions(undefined)).toEqual(none);
    } finally {
      delete proto.daemon;
      delete proto.target;
    }
  });
});

describe('timeouts', () => {
  test('undefined, null and Infinity mean no timeout', () => {
    expect(checkTimeout(undefined)).toBeNull();
    expect(checkTimeout(null)).toBeNull();
    expect(checkTimeout(Infinity)).toBeNull();
  });

  test('0 … 2147483647 ms, fractions allowed', () => {
    for (const value of [0, 0.5, 1, 1000, MAX_TIMEOUT_MS]) expect(checkTimeout(value)).toBe(value);
    expect(MAX_TIMEOUT_MS).toBe(2 ** 31 - 1);
  });

  test('out of range: RangeError', () => {
    for (const value of [-1, -0.001, MAX_TIMEOUT_MS + 1, NaN, -Infinity]) {
      expect(thrown(() => checkTimeout(value))).toEqual(rangeError());
    }
    expect(thrown(() => checkTimeout(-1))).toEqual(
      rangeError(
        'The value of "timeoutMs" is out of range. It must be >= 0 && <= 2147483647 or Infinity. Received -1',
      ),
    );
  });

  test('not a number: TypeError', () => {
    for (const value of ['5', true, {}, [], 5n, Symbol('t')]) {
      expect(thrown(() => checkTimeout(value))).toEqual(typeError('ERR_INVALID_ARG_TYPE'));
    }
    expect((thrown(() => checkTimeout('5')) as Error).message).toBe(
      'The "timeoutMs" argument must be of type number. Received type string (\'5\')',
    );
  });
});

describe('the class checks its arguments before doing anything', () => {
  const anyProcess = Process as unknown as new (...args: unknown[]) => Process;

  test('constructor: options checked, at most one argument', () => {
    expect(thrown(() => new anyProcess({}, {}))).toEqual(typeError('ERR_TOO_MANY_ARGS'));
    expect(thrown(() => new anyProcess({ target: 1 }))).toEqual(typeError('ERR_INVALID_ARG_TYPE'));
    expect(thrown(() => new anyProcess({ other: 1 }))).toEqual(typeError('ERR_INVALID_ARG_VALUE'));
  });

  test('names: Process-N by default, the subclass name for subclasses', () => {
    const first = new Process();
    const second = new Process({ name: 'given' });
    class Worker extends Process {}
    const third = new Worker();
    const n = Number(first.name.split('-')[1]);
    expect(first.name).toBe(`Process-${n}`);
    expect(second.name).toBe('given');
    expect(third.name).toBe(`Worker-${n + 2}`);
    expect(first.daemon).toBe(false);
    expect(first.pid).toBeNull();
    expect(first.exitCode).toBeNull();
  });

  test('setters and methods check their arguments', async () => {
    const p = new Process();
    expect(
      thrown(() => {
        (p as { name: unknown }).name = 5;
      }),
    ).toEqual(typeError('ERR_INVALID_ARG_TYPE'));
    expect(
      thrown(() => {
        (p as { daemon: unknown }).daemon = 'yes';
      }),
    ).toEqual(typeError('ERR_INVALID_ARG_TYPE'));
    expect(thrown(() => (p.joinSync as (...a: unknown[]) => unknown)(1, 2))).toEqual(
      typeError('ERR_TOO_MANY_ARGS'),
    );
    expect(thrown(() => p.joinSync(-5))).toEqual(rangeError());
    await expect(p.join(-5)).rejects.toEqual(rangeError());
    await expect((p.join as (t: unknown) => Promise<unknown>)('x')).rejects.toEqual(
      typeError('ERR_INVALID_ARG_TYPE'),
    );
    expect(thrown(() => (p.start as (...a: unknown[]) => void)(1))).toEqual(
      typeError('ERR_TOO_MANY_ARGS'),
    );
    expect(thrown(() => Process.prototype.isAlive.call({}))).toEqual(typeError('ERR_INVALID_THIS'));
  });

  test('misuse before start(): an Error with a code', async () => {
    const p = new Process();
    expect(thrown(() => p.joinSync())).toEqual(
      expect.objectContaining({ code: 'ERR_PROCESS_NOT_STARTED' }),
    );
    await expect(p.join()).rejects.toEqual(
      expect.objectContaining({ code: 'ERR_PROCESS_NOT_STARTED' }),
    );
    expect(thrown(() => p.terminate())).toEqual(
      expect.objectContaining({ code: 'ERR_PROCESS_NOT_STARTED' }),
    );
    expect(p.isAlive()).toBe(false);
  });
});
