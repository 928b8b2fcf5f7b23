// The CLI's pure helpers, in-process: option parsing, command lookup (in a temporary PATH),
// exit statuses, the status lines, error lines and colour choice. No process is started.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { describeVerdict, parseSeconds, parseUmask } from '../src/cli/daemon';
import { execFailureStatus, resolveCommand } from '../src/cli/exec';
import { CliError, USAGE_EXIT, errorLine, makeStyle, wantsColor } from '../src/cli/output';
import { shellStatus } from '../src/cli/reap';
import { describeEnd } from '../src/status';
import { parseListen, parseWorkers } from '../src/cli/serve';
import type { WaitStatus } from '../src/status';

function cliError(call: () => unknown): { message: string; exitCode: number } {
  try {
    call();
  } catch (error) {
    expect(error).toBeInstanceOf(CliError);
    return { message: (error as CliError).message, exitCode: (error as CliError).exitCode };
  }
  throw new Error('accepted');
}

describe('option values', () => {
  test.each([
    ['022', 0o22],
    ['0022', 0o22],
    ['0o027', 0o27],
    ['0O7', 7],
    [' 777 ', 0o777],
    ['0', 0],
  ])('--umask %p', (text, mask) => {
    expect(parseUmask(text)).toBe(mask);
  });

  test.each([['8'], ['999'], ['1000'], ['0x12'], [''], ['-1'], ['22a']])(
    '--umask %p is a usage error',
    (text) => {
      expect(cliError(() => parseUmask(text))).toEqual({
        message: `invalid --umask '${text}': expected an octal mask from 000 to 777`,
        exitCode: USAGE_EXIT,
      });
    },
  );

  test('--timeout: seconds from 0 to a day', () => {
    expect(parseSeconds('0')).toBe(0);
    expect(parseSeconds('2.5')).toBe(2.5);
    expect(parseSeconds('86400')).toBe(86400);
    for (const text of ['', ' ', '-1', '86401', 'ten', 'Infinity', 'NaN']) {
      expect(cliError(() => parseSeconds(text)).exitCode).toBe(USAGE_EXIT);
    }
  });

  test.each([
    ['8080', 8080],
    ['0', 0],
    ['127.0.0.1:80', { port: 80, host: '127.0.0.1' }],
    ['localhost:3000', { port: 3000, host: 'localhost' }],
    ['[::1]:8080', { port: 8080, host: '::1' }],
    ['/tmp/app.sock', { path: '/tmp/app.sock' }],
    ['./app.sock', { path: './app.sock' }],
  ])('--listen %p', (text, listen) => {
    expect(parseListen(text)).toEqual(listen);
  });

  test.each([['70000'], ['http'], [':80'], ['host:'], ['::1:80'], ['']])(
    '--listen %p is a usage error',
    (text) => {
      expect(cliError(() => parseListen(text)).exitCode).toBe(USAGE_EXIT);
    },
  );

  test('--workers: 1 to 1024', () => {
    expect(parseWorkers('1')).toBe(1);
    expect(parseWorkers('1024')).toBe(1024);
    for (const text of ['0', '1025', '2.5', '-1', 'four', '']) {
      expect(cliError(() => parseWorkers(text))).toEqual({
        message: `invalid --workers '${text}': expected 1 to 1024`,
        exitCode: USAGE_EXIT,
      });
    }
  });
});

describe('command lookup, as a shell does it', () => {
  let dir: string;
  let first: string;
  let second: string;

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-unit-'));
    first = path.join(dir, 'first');
    second = path.join(dir, 'second');
    for (const sub of [first, second]) fs.mkdirSync(sub);
    const file = (where: string, name: string, mode: number) => {
      fs.writeFileSync(path.join(where, name), '#!/bin/sh\n');
      fs.chmodSync(path.join(where, name), mode);
    };
    file(first, 'tool', 0o755);
    file(second, 'tool', 0o755);
    file(first, 'plain', 0o644); // not executable here...
    file(second, 'plain', 0o755); // ...but here: the later one is found
    file(first, 'locked', 0o644);
    fs.mkdirSync(path.join(first, 'adir'));
  });

  afterAll(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('a name is searched in PATH, in order', () => {
    expect(resolveCommand('tool', '/', `${first}:${second}`)).toBe(path.join(first, 'tool'));
    expect(resolveCommand('tool', '/', `${second}:${first}`)).toBe(path.join(second, 'tool'));
  });

  test('a file found but not executable is passed over for a later one', () => {
    expect(resolveCommand('plain', '/', `${first}:${second}`)).toBe(path.join(second, 'plain'));
  });

  test('an empty PATH entry is the working directory', () => {
    expect(resolveCommand('tool', first, `:${second}`)).toBe(path.join(first, 'tool'));
  });

  test('a name with a slash is a path, relative to the working directory', () => {
    expect(resolveCommand('./tool', second, '')).toBe(path.join(second, 'tool'));
    expect(resolveCommand(path.join(first, 'tool'), '/', '')).toBe(path.join(first, 'tool'));
  });

  test('not found is 127, found but not executable 126', () => {
    expect(cliError(() => resolveCommand('nothing-here', '/', first))).toEqual({
      message: 'nothing-here: command not found',
      exitCode: 127,
    });
    expect(cliError(() => resolveCommand('', '/', first))).toEqual({
      message: 'empty command name',
      exitCode: 127,
    });
    expect(cliError(() => resolveCommand('locked', '/', first))).toEqual({
      message: `locked: permission denied (${path.join(first, 'locked')})`,
      exitCode: 126,
    });
    expect(cliError(() => resolveCommand('./missing', first, ''))).toEqual({
      message: './missing: no such file',
      exitCode: 127,
    });
    expect(cliError(() => resolveCommand('./adir', first, ''))).toEqual({
      message: './adir: is a directory',
      exitCode: 126,
    });
    expect(cliError(() => resolveCommand('./locked', first, ''))).toEqual({
      message: './locked: permission denied',
      exitCode: 126,
    });
  });

  test('a directory in PATH with the name is not the command', () => {
    expect(cliError(() => resolveCommand('adir', '/', first)).exitCode).toBe(127);
  });

  test('execve failures: 127 when the interpreter is missing (ENOENT), else 126', () => {
    expect(execFailureStatus(Object.assign(new Error('x'), { code: 'ENOENT' }))).toBe(127);
    expect(execFailureStatus(Object.assign(new Error('x'), { code: 'EACCES' }))).toBe(126);
    expect(execFailureStatus(new Error('x'))).toBe(126);
  });
});

test('describeEnd: the exit code, or the signal and a core dump', () => {
  const ended = (change: Partial<WaitStatus>) =>
    ({
      exitCode: null,
      signal: null,
      signalNumber: null,
      coreDumped: false,
      ...change,
    }) as WaitStatus;
  expect(describeEnd(ended({ exitCode: 0 }))).toBe('exit code 0');
  expect(describeEnd(ended({ signal: 'SIGTERM', signalNumber: 15 }))).toBe('signal SIGTERM');
  expect(describeEnd(ended({ signal: 'SIGSEGV', signalNumber: 11, coreDumped: true }))).toBe(
    'signal SIGSEGV, core dumped',
  );
  expect(describeEnd(ended({ signalNumber: 64 }))).toBe('signal 64');
});

test("shellStatus: the exit code, or 128 + the signal's number", () => {
  const status = (exitCode: number | null, signalNumber: number | null) =>
    ({ exitCode, signalNumber }) as WaitStatus;
  expect(shellStatus(status(0, null))).toBe(0);
  expect(shellStatus(status(3, null))).toBe(3);
  expect(shellStatus(status(null, 15))).toBe(143);
  expect(shellStatus(status(null, 9))).toBe(137);
});

describe('status lines (LSB exit statuses)', () => {
  const record = { pid: 42, start: '1', sid: 42, boot: null };
  const member = { pid: 43, start: '2', sid: 42, pgid: 42, ended: false };
  test.each([
    [{ state: 'running', record, identity: { ...member, pid: 42 } }, 0, 'running (pid 42)'],
    [{ state: 'starting', holders: [] }, 0, 'starting (pid not written yet to f.pid)'],
    [
      { state: 'dead', record, members: [member] },
      1,
      'dead (pid 42 is gone), 1 process of its session still runs: pids 43',
    ],
    [
      { state: 'dead', record, members: [member, { ...member, pid: 44 }] },
      1,
      'dead (pid 42 is gone), 2 processes of its session still run: pids 43 44',
    ],
    [
      { state: 'stale', record, holders: [] },
      1,
      'not running, but the pidfile f.pid exists (stale pid 42)',
    ],
    [
      { state: 'stale', record: null, holders: [{ pid: 7, uid: 0, comm: 'sh' }] },
      1,
      'not running, but the pidfile f.pid exists; locked by pid 7 (sh, uid 0)',
    ],
    [
      { state: 'stale', record: null, holders: [{ pid: 0, uid: -1, comm: '?' }] },
      1,
      'not running, but the pidfile f.pid exists; locked by a process this user cannot see',
    ],
    [{ state: 'absent' }, 3, 'not running (no pidfile f.pid)'],
    [{ state: 'unproven', record, reason: 'no proof' }, 4, 'unknown: no proof'],
    [
      { state: 'untrusted', record: null, reason: 'writable by others' },
      4,
      'unknown: cannot trust the pidfile: writable by others',
    ],
    [{ state: 'invalid', reason: 'a directory' }, 4, 'unknown: a directory'],
  ])('%j', (verdict, status, line) => {
    expect(describeVerdict('f.pid', verdict as Parameters<typeof describeVerdict>[1])).toEqual({
      status,
      line,
    });
  });
});

describe('output', () => {
  test('errorLine: one line, the command named', () => {
    expect(errorLine('stop', new Error('boom'))).toBe('posix-fork stop: boom');
    expect(errorLine('', new Error('boom'))).toBe('posix-fork: boom');
    expect(
      errorLine('daemon', new Error('the daemon failed before it started:\n  Error: no\n    at x')),
    ).toBe('posix-fork daemon: the daemon failed before it started: Error: no');
    expect(errorLine('reap', 'text')).toBe('posix-fork reap: text');
    expect(errorLine('x', new TypeError(''))).toBe('posix-fork x: TypeError');
  });

  test('makeStyle: ANSI codes only when enabled', () => {
    expect(makeStyle(true).red('z')).toBe('\x1b[31mz\x1b[39m');
    expect(makeStyle(true).bold('b')).toBe('\x1b[1mb\x1b[22m');
    expect(makeStyle(false).red('z')).toBe('z');
  });

  test('wantsColor: flag, then NO_COLOR, then FORCE_COLOR, then a terminal that is not dumb', () => {
    const saved = {
      NO_COLOR: process.env.NO_COLOR,
      FORCE_COLOR: process.env.FORCE_COLOR,
      TERM: process.env.TERM,
    };
    const set = (name: keyof typeof saved, value: string | undefined) => {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    };
    try {
      set('NO_COLOR', undefined);
      set('FORCE_COLOR', undefined);
      set('TERM', 'xterm');
      expect(wantsColor({ isTTY: true })).toBe(true);
      expect(wantsColor({ isTTY: false })).toBe(false);
      expect(wantsColor({})).toBe(false);
      expect(wantsColor({ isTTY: true }, false)).toBe(false);
      expect(wantsColor({ isTTY: false }, true)).toBe(true);
      set('TERM', 'dumb');
      expect(wantsColor({ isTTY: true })).toBe(false);
      set('FORCE_COLOR', '1');
      expect(wantsColor({ isTTY: false })).toBe(true);
      set('FORCE_COLOR', '0');
      expect(wantsColor({ isTTY: true })).toBe(false);
      set('FORCE_COLOR', 'false');
      expect(wantsColor({ isTTY: true })).toBe(false);
      set('FORCE_COLOR', '1');
      set('NO_COLOR', '1');
      expect(wantsColor({ isTTY: true })).toBe(false);
      set('NO_COLOR', '');
      expect(wantsColor({ isTTY: false })).toBe(true);
    } finally {
      for (const [name, value] of Object.entries(saved)) set(name as keyof typeof saved, value);
    }
  });
});
