// The addon's argument errors, in process: the same bad value gets the same TypeError/RangeError,
// code and "Received …" words from native/args.cc as from src/args.ts. Only bad values are
// passed, so no native call reaches its system call.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { checkFunction, checkInteger, checkString, describeReceived } from '../src/args';
import { WaitRecord, native } from '../src/native';
import { decodeWaitStatus, waitStatusFrom } from '../src/status';

function thrown(call: () => unknown): { name: string; code: unknown; message: string } {
  try {
    call();
  } catch (error) {
    const { name, message, code, errno, syscall } = error as NodeJS.ErrnoException;
    return { name, code, message, ...(errno === undefined ? {} : { errno, syscall }) };
  }
  throw new Error('no error thrown');
}

class Custom {}
const longString = 'abcdefghijklmnopqrstuvwxyz0123456789';
const badValues: Array<[string, unknown]> = [
  ['null', null],
  ['undefined', undefined],
  ["'abc'", 'abc'],
  ['a long string', longString],
  ['a long string of two-unit characters', '😀'.repeat(20)],
  ['1.5', 1.5],
  ['-0', -0],
  ['NaN', NaN],
  ['a named function', function named() {}],
  [
    'an anonymous function',
    (
      () => () =>
        0
    )(),
  ],
  ['{}', {}],
  ['[]', []],
  ['new Date()', new Date(0)],
  ['an instance of a class', new Custom()],
  ['Object.create(null)', Object.create(null)],
  ['a boxed number', new Number(5)],
  ['5n', 5n],
  ["Symbol('x')", Symbol('x')],
  ['true', true],
];

describe('native and TypeScript word an argument error the same way', () => {
  test.each(badValues.filter(([, value]) => typeof value !== 'function'))(
    'a function expected, %s given',
    (_label, value) => {
      const fromNative = thrown(() => native.exitRoutedToExit(value as never));
      const fromTs = thrown(() => checkFunction('reallyExit', value));
      expect(fromNative).toEqual(fromTs);
      expect(fromNative.message.endsWith(describeReceived(value))).toBe(true);
    },
  );

  // -0 is a valid mask, and undefined is no argument at all.
  test.each(badValues.filter(([, value]) => value !== undefined && !Object.is(value, -0)))(
    'an integer expected, %s given',
    (_label, value) => {
      const fromNative = thrown(() => native.umask(value as never));
      const fromTs = thrown(() => checkInteger('mask', value, 0, 0o777));
      expect(fromNative).toEqual(fromTs);
    },
  );

  test.each(badValues.filter(([, value]) => typeof value !== 'string'))(
    'a string expected, %s given',
    (_label, value) => {
      const fromNative = thrown(() => native.execve(value as never, [], []));
      const fromTs = thrown(() => checkString('path', value));
      expect(fromNative).toEqual(fromTs);
    },
  );

  test('out of range keeps "Received <number>"', () => {
    expect(thrown(() => native.umask(0o1000))).toEqual({
      name: 'RangeError',
      code: 'ERR_OUT_OF_RANGE',
      message:
        'The value of "mask" is out of range. It must be an integer >= 0 and <= 511. Received 512',
    });
    expect(thrown(() => native.umask(1.5)).message).toMatch(/Received 1\.5$/);
  });

  test('a getter that throws while the value is described reaches the caller', () => {
    const hostile = Object.create({
      get constructor(): never {
        throw new Error('constructor getter');
      },
    });
    expect(() => native.exitRoutedToExit(hostile)).toThrow('constructor getter');
  });
});

describe('the wait record', () => {
  test('one native answer builds the WaitStatus; a kept status word decodes to the same', () => {
    const exited3 = 3 << 8;
    const record: WaitRecord = [42, exited3, ...native.decodeStatus(exited3)];
    expect(waitStatusFrom(record)).toEqual({
      pid: 42,
      status: exited3,
      exitCode: 3,
      signal: null,
      signalNumber: null,
      coreDumped: false,
      stopped: false,
      stopSignal: null,
      continued: false,
    });
    expect(decodeWaitStatus(42, exited3)).toEqual(waitStatusFrom(record));
    const killed = decodeWaitStatus(7, 9 | 0x80);
    expect(killed).toMatchObject({
      exitCode: null,
      signal: 'SIGKILL',
      signalNumber: 9,
      coreDumped: true,
    });
  });

  test('waitpid without a child throws ECHILD with the libc wording', () => {
    expect(thrown(() => native.waitpid(1, native.constants.WNOHANG))).toMatchObject({
      name: 'Error',
      code: 'ECHILD',
      message: 'waitpid ECHILD (No child processes)',
    });
  });

  test('errno names come from libuv, and the ones it lacks are still named', () => {
    expect(thrown(() => native.dup(2 ** 31 - 1))).toMatchObject({
      code: 'EBADF',
      message: 'dup EBADF (Bad file descriptor)',
    });
    expect(thrown(() => native.execve('/dev/null', ['/dev/null'], []))).toMatchObject({
      code: 'EACCES',
    });
    // An empty executable file: the kernel knows no format for it (libuv has no ENOEXEC).
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'native-args-'));
    const empty = path.join(dir, 'empty');
    fs.writeFileSync(empty, '', { mode: 0o755 });
    try {
      expect(thrown(() => native.execve(empty, [empty], []))).toMatchObject({
        code: 'ENOEXEC',
        errno: -os.constants.errno.ENOEXEC,
        syscall: 'execve',
      });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

test("Node's ignored signals are one native list", () => {
  const { signals } = os.constants;
  expect([...native.nodeIgnoredSignals].sort()).toEqual([signals.SIGPIPE, signals.SIGXFSZ].sort());
});
