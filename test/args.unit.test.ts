// src/args.ts: every check, its error class and code, and Node's "Received …" wording for each
// kind of value. In-process, no system call.
import {
  argError,
  checkArity,
  checkBoolean,
  checkFunction,
  checkInteger,
  checkPath,
  checkString,
  describeReceived,
  errnoCode,
  fail,
  invalidType,
  invalidValue,
  isPlainObject,
  outOfRange,
  readOptions,
} from '../src/args';
import { thrown } from './unit-helpers';

describe("describeReceived(): the tail of Node's messages", () => {
  test.each([
    [null, 'Received null'],
    [undefined, 'Received undefined'],
    [5, 'Received type number (5)'],
    [NaN, 'Received type number (NaN)'],
    [-0.5, 'Received type number (-0.5)'],
    [true, 'Received type boolean (true)'],
    [12n, 'Received type bigint (12n)'],
    [Symbol('s'), 'Received type symbol (Symbol(s))'],
    ['abc', "Received type string ('abc')"],
    ['x'.repeat(40), `Received type string ('${'x'.repeat(25)}...')`],
    [[1, 2], 'Received an instance of Array'],
    [{}, 'Received an instance of Object'],
    [new Date(0), 'Received an instance of Date'],
    [Object.create(null), 'Received an instance of Object'],
    [function named() {}, 'Received function named'],
    [() => 1, 'Received function <anonymous>'],
  ])('%p', (value, text) => {
    expect(describeReceived(value)).toBe(text);
  });

  test('a string of exactly the limit is shown whole', () => {
    const limit = 'y'.repeat(28);
    expect(describeReceived(limit)).toBe(`Received type string ('${limit}')`);
  });
});

describe('the error makers', () => {
  test('argError and fail: the class asked for, with a code', () => {
    const error = argError(RangeError, 'ERR_X', 'm') as NodeJS.ErrnoException;
    expect(error).toBeInstanceOf(RangeError);
    expect(error).toMatchObject({ code: 'ERR_X', message: 'm' });
    expect(thrown(() => fail(Error, 'ERR_Y', 'n'))).toEqual({
      name: 'Error',
      code: 'ERR_Y',
      message: 'n',
    });
  });

  test('invalidType: "argument" for a positional name, "property" for an option', () => {
    expect(thrown(() => invalidType('pid', 'of type number', '1'))).toEqual({
      name: 'TypeError',
      code: 'ERR_INVALID_ARG_TYPE',
      message: 'The "pid" argument must be of type number. Received type string (\'1\')',
    });
    expect(thrown(() => invalidType('options.umask', 'of type number', null)).message).toBe(
      'The "options.umask" property must be of type number. Received null',
    );
  });

  test('outOfRange quotes strings, shows other values as they print', () => {
    expect(thrown(() => outOfRange('n', 'an integer >= 0', 1.5))).toEqual({
      name: 'RangeError',
      code: 'ERR_OUT_OF_RANGE',
      message: 'The value of "n" is out of range. It must be an integer >= 0. Received 1.5',
    });
    expect(thrown(() => outOfRange('n', 'x', 'a')).message).toMatch(/Received 'a'$/);
  });

  test('invalidValue', () => {
    expect(
      thrown(() => invalidValue('options.detach', "must be 'auto', true or false", 'yes')),
    ).toEqual({
      name: 'TypeError',
      code: 'ERR_INVALID_ARG_VALUE',
      message: "The \"options.detach\" property must be 'auto', true or false. Received 'yes'",
    });
    expect(thrown(() => invalidValue('x', 'is wrong', 3)).message).toBe(
      'The "x" argument is wrong. Received 3',
    );
  });
});

describe('checkInteger', () => {
  test('returns the value in range, ends included', () => {
    expect(checkInteger('n', 0, 0, 10)).toBe(0);
    expect(checkInteger('n', 10, 0, 10)).toBe(10);
  });

  test.each([['1'], [null], [undefined], [1n], [{}], [new Number(1)]])(
    '%p is a TypeError',
    (value) => {
      expect(thrown(() => checkInteger('n', value, 0, 10))).toMatchObject({
        name: 'TypeError',
        code: 'ERR_INVALID_ARG_TYPE',
      });
    },
  );

  test.each([[-1], [11], [1.5], [NaN], [Infinity], [-Infinity]])('%p is a RangeError', (value) => {
    expect(thrown(() => checkInteger('n', value, 0, 10))).toEqual({
      name: 'RangeError',
      code: 'ERR_OUT_OF_RANGE',
      message: `The value of "n" is out of range. It must be an integer >= 0 and <= 10. Received ${value}`,
    });
  });

  test('a symbolic maximum is named as given', () => {
    expect(thrown(() => checkInteger('mask', 0o1000, 0, 0o777, '0o777')).message).toBe(
      'The value of "mask" is out of range. It must be an integer >= 0 and <= 0o777. Received 512',
    );
  });
});

describe('checkBoolean, checkFunction, checkString, checkPath', () => {
  test('the right type passes through', () => {
    const f = () => 1;
    expect(checkBoolean('b', false)).toBe(false);
    expect(checkFunction('f', f)).toBe(f);
    expect(checkString('s', '')).toBe('');
    expect(checkPath('p', '/tmp/x')).toBe('/tmp/x');
  });

  test('the wrong type is ERR_INVALID_ARG_TYPE with the expected type named', () => {
    expect(thrown(() => checkBoolean('b', 'true')).message).toBe(
      'The "b" argument must be of type boolean. Received type string (\'true\')',
    );
    expect(thrown(() => checkFunction('options.serve', 'app.js')).message).toBe(
      'The "options.serve" property must be of type function. Received type string (\'app.js\')',
    );
    expect(thrown(() => checkString('s', 5)).code).toBe('ERR_INVALID_ARG_TYPE');
    expect(thrown(() => checkPath('p', undefined)).code).toBe('ERR_INVALID_ARG_TYPE');
  });

  test('null bytes, and an empty path, are ERR_INVALID_ARG_VALUE', () => {
    expect(thrown(() => checkString('s', 'a\0b'))).toMatchObject({
      name: 'TypeError',
      code: 'ERR_INVALID_ARG_VALUE',
    });
    expect(thrown(() => checkPath('p', '/tmp\0x')).code).toBe('ERR_INVALID_ARG_VALUE');
    expect(thrown(() => checkPath('options.pidFile', ''))).toEqual({
      name: 'TypeError',
      code: 'ERR_INVALID_ARG_VALUE',
      message: 'The "options.pidFile" property must be a non-empty string. Received \'\'',
    });
  });
});

describe('checkArity', () => {
  function takesOneOrTwo(..._args: unknown[]): void {
    checkArity(arguments, 1, 2);
  }

  test('within the bounds: nothing', () => {
    expect(() => takesOneOrTwo(1)).not.toThrow();
    expect(() => takesOneOrTwo(1, 2)).not.toThrow();
  });

  test('too few, too many', () => {
    expect(thrown(() => takesOneOrTwo())).toEqual({
      name: 'TypeError',
      code: 'ERR_MISSING_ARGS',
      message: 'Expected at least 1 argument(s), received 0',
    });
    expect(thrown(() => takesOneOrTwo(1, 2, 3))).toEqual({
      name: 'TypeError',
      code: 'ERR_TOO_MANY_ARGS',
      message: 'Expected at most 2 argument(s), received 3',
    });
  });
});

describe('isPlainObject and readOptions', () => {
  test('plain objects: literals and null-prototype objects only', () => {
    expect(isPlainObject({})).toBe(true);
    expect(isPlainObject(Object.create(null))).toBe(true);
    for (const value of [
      null,
      undefined,
      [],
      new Date(),
      new Map(),
      new Number(1),
      Object.create({}),
      'x',
      1,
    ]) {
      expect(isPlainObject(value)).toBe(false);
    }
  });

  test('undefined is no options; the result has no prototype', () => {
    const none = readOptions(undefined, ['a']);
    expect(Object.keys(none)).toEqual([]);
    expect(Object.getPrototypeOf(none)).toBeNull();
  });

  test('own properties only: Object.prototype changes nothing', () => {
    const proto = Object.prototype as unknown as Record<string, unknown>;
    proto.b = 'inherited';
    try {
      const read = readOptions({ a: 1 }, ['a', 'b']);
      expect(read.a).toBe(1);
      expect(read.b).toBeUndefined();
    } finally {
      delete proto.b;
    }
  });

  test('not a plain object: ERR_INVALID_ARG_TYPE', () => {
    expect(thrown(() => readOptions([], ['a']))).toEqual({
      name: 'TypeError',
      code: 'ERR_INVALID_ARG_TYPE',
      message: 'The "options" argument must be a plain object. Received an instance of Array',
    });
    expect(thrown(() => readOptions(null, ['a'])).code).toBe('ERR_INVALID_ARG_TYPE');
  });

  test('anyObject: any object but an array, its inherited properties ignored', () => {
    const read = readOptions(
      Object.create({ a: 1, b: 2 }, { b: { value: 3, enumerable: true } }),
      ['a', 'b'],
      'options',
      true,
    );
    expect({ ...read }).toEqual({ b: 3 });
    expect(thrown(() => readOptions([], ['a'], 'options', true)).message).toBe(
      'The "options" argument must be of type object. Received an instance of Array',
    );
    expect(thrown(() => readOptions('x', ['a'], 'options', true)).code).toBe(
      'ERR_INVALID_ARG_TYPE',
    );
    expect(thrown(() => readOptions(new Date(), ['a'])).code).toBe('ERR_INVALID_ARG_TYPE');
  });

  test('an unknown property: ERR_INVALID_ARG_VALUE naming it and the known ones', () => {
    expect(thrown(() => readOptions({ c: 1 }, ['a', 'b']))).toEqual({
      name: 'TypeError',
      code: 'ERR_INVALID_ARG_VALUE',
      message: 'The "options" argument has an unknown property \'c\' (known: a, b)',
    });
    expect(thrown(() => readOptions({ [Symbol('s')]: 1 }, ['a'])).message).toBe(
      'The "options" argument has an unknown property \'Symbol(s)\' (known: a)',
    );
    expect(thrown(() => readOptions({ c: 1 }, ['a'], 'options.listen')).message).toBe(
      'The "options.listen" property has an unknown property \'c\' (known: a)',
    );
  });
});

test('errnoCode: the code of a system error, else undefined', () => {
  expect(errnoCode(Object.assign(new Error('x'), { code: 'ENOENT' }))).toBe('ENOENT');
  expect(errnoCode(new Error('x'))).toBeUndefined();
  expect(errnoCode({ code: 5 })).toBeUndefined();
  expect(errnoCode(null)).toBeUndefined();
  expect(errnoCode('ENOENT')).toBeUndefined();
});
