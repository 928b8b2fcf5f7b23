// daemonize()'s options: normalisation into Settings and every refusal, in-process (no fork:
// normalizeOptions() is what daemonize() runs before anything else).
import * as path from 'path';
import { normalizeOptions, startedBySupervisor } from '../src/daemon/options';
import { thrown } from './unit-helpers';

describe('defaults and normal forms', () => {
  test('no options', () => {
    const defaults = {
      workingDirectory: '/',
      umask: 0,
      pidFile: null,
      stdout: null,
      stderr: null,
      stdoutGiven: false,
      stderrGiven: false,
      keepFds: [],
      env: [],
      detach: 'auto',
      waitForReady: false,
      startTimeoutMs: 30000,
    };
    expect(normalizeOptions(undefined)).toEqual(defaults);
    expect(normalizeOptions({})).toEqual(defaults);
    expect(normalizeOptions(Object.create(null))).toEqual(defaults);
  });

  test('paths are made absolute against the working directory of the launcher', () => {
    const settings = normalizeOptions({
      workingDirectory: 'w',
      pidFile: 'd.pid',
      stdout: 'out.log',
      stderr: '/e.log',
    });
    expect(settings).toMatchObject({
      workingDirectory: path.resolve('w'),
      pidFile: path.resolve('d.pid'),
      stdout: path.resolve('out.log'),
      stderr: '/e.log',
      stdoutGiven: true,
      stderrGiven: true,
    });
  });

  test("'ignore' is /dev/null (null), still counted as given", () => {
    expect(normalizeOptions({ stdout: 'ignore' })).toMatchObject({
      stdout: null,
      stdoutGiven: true,
      stderrGiven: false,
    });
  });

  test('keepFds: each once, in order', () => {
    expect(normalizeOptions({ keepFds: [5, 3, 5] }).keepFds).toEqual([5, 3]);
  });

  test('env: a string sets, null and undefined remove', () => {
    expect(normalizeOptions({ env: { A: '1', B: null, C: undefined, D: '' } }).env).toEqual([
      ['A', '1'],
      ['B', null],
      ['C', null],
      ['D', ''],
    ]);
  });

  test('the other options as given', () => {
    expect(
      normalizeOptions({ umask: 0o027, detach: false, waitForReady: true, startTimeoutMs: 1 }),
    ).toMatchObject({ umask: 0o027, detach: false, waitForReady: true, startTimeoutMs: 1 });
    expect(normalizeOptions({ detach: true }).detach).toBe(true);
    expect(normalizeOptions({ detach: 'auto' }).detach).toBe('auto');
  });

  test('any object but an array; what it inherits is ignored', () => {
    expect(normalizeOptions(Object.create({ umask: 0o777 }))).toMatchObject({ umask: 0 });
    expect(normalizeOptions(new Date(0))).toMatchObject({ umask: 0, detach: 'auto' });
  });

  test('own properties only: Object.prototype changes nothing', () => {
    const proto = Object.prototype as unknown as Record<string, unknown>;
    proto.umask = 0o777;
    proto.pidFile = '/tmp/evil.pid';
    try {
      expect(normalizeOptions({})).toMatchObject({ umask: 0, pidFile: null });
    } finally {
      delete proto.umask;
      delete proto.pidFile;
    }
  });
});

describe('refusals', () => {
  test.each([
    [
      null,
      'TypeError',
      'ERR_INVALID_ARG_TYPE',
      'The "options" argument must be of type object. Received null',
    ],
    ['/tmp', 'TypeError', 'ERR_INVALID_ARG_TYPE', undefined],
    [[], 'TypeError', 'ERR_INVALID_ARG_TYPE', undefined],
    [
      { pidfile: 'x' },
      'TypeError',
      'ERR_INVALID_ARG_VALUE',
      /^The "options" argument has an unknown property 'pidfile' \(known: workingDirectory, /,
    ],
    [
      { workingDirectory: 5 },
      'TypeError',
      'ERR_INVALID_ARG_TYPE',
      'The "options.workingDirectory" property must be of type string. Received type number (5)',
    ],
    [
      { workingDirectory: '' },
      'TypeError',
      'ERR_INVALID_ARG_VALUE',
      'The "options.workingDirectory" property must be a non-empty string. Received \'\'',
    ],
    [{ pidFile: '/tmp\0x' }, 'TypeError', 'ERR_INVALID_ARG_VALUE', undefined],
    [{ stdout: true }, 'TypeError', 'ERR_INVALID_ARG_TYPE', undefined],
    [
      { stderr: null },
      'TypeError',
      'ERR_INVALID_ARG_TYPE',
      'The "options.stderr" property must be of type string. Received null',
    ],
    [{ umask: '022' }, 'TypeError', 'ERR_INVALID_ARG_TYPE', undefined],
    [
      { umask: 0o1000 },
      'RangeError',
      'ERR_OUT_OF_RANGE',
      'The value of "options.umask" is out of range. It must be an integer >= 0 and <= 0o777. Received 512',
    ],
    [{ umask: -1 }, 'RangeError', 'ERR_OUT_OF_RANGE', undefined],
    [{ umask: 1.5 }, 'RangeError', 'ERR_OUT_OF_RANGE', undefined],
    [
      { keepFds: 3 },
      'TypeError',
      'ERR_INVALID_ARG_TYPE',
      'The "options.keepFds" property must be an instance of Array. Received type number (3)',
    ],
    [
      { keepFds: [1] },
      'RangeError',
      'ERR_OUT_OF_RANGE',
      'The value of "options.keepFds[0]" is out of range. It must be an integer >= 3 and <= 2147483647. Received 1',
    ],
    [
      { keepFds: [3, '4'] },
      'TypeError',
      'ERR_INVALID_ARG_TYPE',
      'The "options.keepFds[1]" property must be of type number. Received type string (\'4\')',
    ],
    [{ env: 'A=1' }, 'TypeError', 'ERR_INVALID_ARG_TYPE', undefined],
    [{ env: null }, 'TypeError', 'ERR_INVALID_ARG_TYPE', undefined],
    [
      { env: { A: 1 } },
      'TypeError',
      'ERR_INVALID_ARG_TYPE',
      'The "options.env.A" property must be of type string. Received type number (1)',
    ],
    [{ env: { A: 'x\0y' } }, 'TypeError', 'ERR_INVALID_ARG_VALUE', undefined],
    [
      { env: { 'A=B': 'x' } },
      'TypeError',
      'ERR_INVALID_ARG_VALUE',
      /"options.env" property must have names .* Received 'A=B'$/,
    ],
    [{ env: { '': 'x' } }, 'TypeError', 'ERR_INVALID_ARG_VALUE', undefined],
    [
      { detach: 'yes' },
      'TypeError',
      'ERR_INVALID_ARG_VALUE',
      "The \"options.detach\" property must be 'auto', true or false. Received 'yes'",
    ],
    [{ detach: 1 }, 'TypeError', 'ERR_INVALID_ARG_VALUE', undefined],
    [{ waitForReady: 'true' }, 'TypeError', 'ERR_INVALID_ARG_TYPE', undefined],
    [{ startTimeoutMs: 0 }, 'RangeError', 'ERR_OUT_OF_RANGE', undefined],
    [{ startTimeoutMs: 2 ** 31 }, 'RangeError', 'ERR_OUT_OF_RANGE', undefined],
  ])('%j', (options, name, code, message) => {
    const error = thrown(() => normalizeOptions(options));
    expect(error).toMatchObject({ name, code });
    if (typeof message === 'string') expect(error.message).toBe(message);
    else if (message !== undefined) expect(error.message).toMatch(message);
  });
});

test('startedBySupervisor: systemd says so in the environment', () => {
  const saved = {
    INVOCATION_ID: process.env.INVOCATION_ID,
    NOTIFY_SOCKET: process.env.NOTIFY_SOCKET,
  };
  try {
    delete process.env.INVOCATION_ID;
    delete process.env.NOTIFY_SOCKET;
    expect(startedBySupervisor()).toBe(process.ppid === 1);
    process.env.INVOCATION_ID = 'abc';
    expect(startedBySupervisor()).toBe(true);
  } finally {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
});
