// The reapers' options, in process: defaults, own keys only, and Node's error codes and words.
import { readReapOptions, readReaperOptions } from '../src/reaper-options';

function thrown(call: () => unknown): { name: string; code: unknown; message: string } {
  try {
    call();
  } catch (error) {
    return {
      name: (error as Error).name,
      code: (error as NodeJS.ErrnoException).code,
      message: (error as Error).message,
    };
  }
  throw new Error('no error thrown');
}

test('defaults: scope own, SIGCHLD-driven', () => {
  expect(readReaperOptions(undefined)).toEqual({ scope: 'own', pollMs: undefined });
  expect(readReaperOptions({ scope: 'all', pollMs: 20 })).toEqual({ scope: 'all', pollMs: 20 });
  expect(readReapOptions(undefined)).toBe('own');
  expect(readReapOptions({ scope: 'all' })).toBe('all');
});

test('inherited properties are no options', () => {
  const inherited = Object.create({ scope: 'all', pollMs: 5 });
  expect(() => readReaperOptions(inherited)).toThrow(TypeError); // not a plain object
  const proto = Object.prototype as Record<string, unknown>;
  proto.pollMs = 5;
  try {
    expect(readReaperOptions({})).toEqual({ scope: 'own', pollMs: undefined });
  } finally {
    delete proto.pollMs;
  }
});

test('errors carry the codes and the "Received …" words of src/args.ts', () => {
  expect(thrown(() => readReaperOptions({ scope: 'every' }))).toEqual({
    name: 'TypeError',
    code: 'ERR_INVALID_ARG_VALUE',
    message: "The \"options.scope\" property must be 'own' or 'all'. Received 'every'",
  });
  expect(thrown(() => readReaperOptions({ scope: 1 }))).toEqual({
    name: 'TypeError',
    code: 'ERR_INVALID_ARG_TYPE',
    message: 'The "options.scope" property must be of type string. Received type number (1)',
  });
  expect(thrown(() => readReaperOptions({ pollMs: 0 }))).toEqual({
    name: 'RangeError',
    code: 'ERR_OUT_OF_RANGE',
    message:
      'The value of "options.pollMs" is out of range. It must be an integer >= 1 and <= 2147483647. Received 0',
  });
  expect(thrown(() => readReaperOptions({ pollms: 10 }))).toMatchObject({
    code: 'ERR_INVALID_ARG_VALUE',
  });
  expect(thrown(() => readReapOptions({ [Symbol('s')]: 1 }))).toMatchObject({
    code: 'ERR_INVALID_ARG_VALUE',
  });
  expect(thrown(() => readReapOptions(new Date(0)))).toEqual({
    name: 'TypeError',
    code: 'ERR_INVALID_ARG_TYPE',
    message: 'The "options" argument must be a plain object. Received an instance of Date',
  });
});
