// Launchers keep what they inherit: ensureForkSafe(), `posix-fork run` and `posix-fork reap`
// pass on the descriptors and the child_process channel the program was started with; `reap`
// forwards what another process sends it, also on a terminal; `reap` and `daemon` run a
// script without `#!` with /bin/sh as execvp(3) does. Checked through /proc, real sockets,
// a real pseudo-terminal and exit statuses.
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { native } from '../src/native';
import {
  DIST,
  FIXTURES,
  ROOT,
  RunOptions,
  RunResult,
  killGroup,
  runFixture,
  runNode,
  until,
} from './helpers';

const CLI = path.join(ROOT, 'dist', 'src', 'cli', 'index.js');
const linux = process.platform === 'linux';
const onLinux = linux ? test : test.skip;
const hasPty = spawnSync('python3', ['-c', 'import pty'], { stdio: 'ignore' }).status === 0;
const onLinuxWithPty = linux && hasPty ? test : test.skip;

/** Process groups this file started itself (besides runNode's): killed in afterAll. */
const groups = new Set<number>();
let tmp: string;

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'posix-fork-launchers-'));
});

afterAll(() => {
  for (const pgid of groups) killGroup(pgid);
  fs.rmSync(tmp, { recursive: true, force: true });
});

function cli(args: string[], options: RunOptions = {}): Promise<RunResult> {
  return runNode([CLI, ...args], { forkSafe: false, ...options });
}

function readText(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

interface FdReport {
  pid: number;
  forkSafe: boolean;
  ownFd: string | null;
  fds: Record<string, string>;
}

/** Two files opened here, passed to a child as its fds 3 and 4. */
function inheritedFiles(): { files: string[]; stdio: RunOptions['stdio'] } {
  const files = ['inherited-a', 'inherited-b'].map((name) => path.join(tmp, name));
  const fds = files.map((file) => {
    fs.writeFileSync(file, file);
    return fs.openSync(file, 'r');
  });
  return { files, stdio: ['ignore', 'pipe', 'pipe', ...fds] };
}

describe('ensureForkSafe()', () => {
  onLinux(
    'keeps the descriptors the program was started with, not the ones it opened',
    async () => {
      const { files, stdio } = inheritedFiles();
      const own = path.join(tmp, 'own');
      fs.writeFileSync(own, 'own');
      const result = await runFixture('launch-fds.js', [own], { forkSafe: false, stdio });
      expect(result.stderr).toBe('');
      const report = JSON.parse(result.stdout) as FdReport;
      expect(report.pid).toBe(result.pid);
      expect(report.forkSafe).toBe(true);
      expect(report.fds['3']).toBe(files[0]);
      expect(report.fds['4']).toBe(files[1]);
      expect(report.ownFd).not.toBeNull();
      expect(report.fds[report.ownFd as string]).not.toBe(own);
    },
  );

  test.each(['json', 'advanced'])(
    'a child_process.fork() worker keeps its IPC channel (%s)',
    async (mode) => {
      const result = await runFixture('launch-ipc.js', ['ensure', mode], { forkSafe: false });
      expect(result.stderr).toBe('');
      const report = JSON.parse(result.stdout) as {
        workerPid: number;
        exitCode: number;
        reply: {
          forkSafe: boolean;
          pid: number;
          message: { hello: string };
          dateIsDate: boolean;
        } | null;
      };
      expect(report.exitCode).toBe(0);
      expect(report.reply).not.toBeNull();
      expect(report.reply?.forkSafe).toBe(true);
      expect(report.reply?.pid).toBe(report.workerPid);
      // The message sent before the worker re-executed arrives, decoded as it was sent.
      expect(report.reply?.message.hello).toBe('worker');
      expect(report.reply?.dateIsDate).toBe(mode === 'advanced');
    },
  );

  test.each([[[]], [['-', 'arg']]])(
    'a program read from standard input throws a clear error (node %j)',
    async (args) => {
      const program = path.join(tmp, 'stdin-program.js');
      fs.writeFileSync(
        program,
        `
      const { ensureForkSafe } = require(${JSON.stringify(DIST)});
      try {
        ensureForkSafe();
        console.log('not reached');
      } catch (error) {
        console.log(error.code + ': ' + error.message);
        process.exitCode = 3;
      }`,
      );
      const stdin = fs.openSync(program, 'r');
      try {
        const result = await runNode(args, { forkSafe: false, stdio: [stdin, 'pipe', 'pipe'] });
        expect(result.stderr).toBe('');
        expect(result.code).toBe(3);
        expect(result.stdout).toMatch(
          /^ERR_FORK_SAFE_STDIN: .*read from standard input.*run it from a file/,
        );
      } finally {
        fs.closeSync(stdin);
      }
    },
  );

  test('node -e, node -p and a preload before a standard-input program are re-executed', async () => {
    const pf = `require(${JSON.stringify(DIST)})`;
    const evaluated = await runNode(
      [
        '-e',
        `${pf}.ensureForkSafe();
      console.log(JSON.stringify({ pid: process.pid, forkSafe: ${pf}.isForkSafe(), args: process.argv.slice(1) }))`,
        'a',
        'b',
      ],
      { forkSafe: false },
    );
    expect(evaluated.stderr).toBe('');
    expect(JSON.parse(evaluated.stdout)).toEqual({
      pid: evaluated.pid,
      forkSafe: true,
      args: ['a', 'b'],
    });

    const printed = await runNode(['-p', `${pf}.ensureForkSafe(), ${pf}.isForkSafe()`], {
      forkSafe: false,
    });
    expect(printed.stderr).toBe('');
    expect(printed.stdout).toBe('true\n');

    // A preload runs before node reads standard input: the re-executed node reads it.
    const program = path.join(tmp, 'preloaded-program.js');
    fs.writeFileSync(program, `console.log(${pf}.isForkSafe())`);
    const stdin = fs.openSync(program, 'r');
    try {
      const preloaded = await runNode(['-r', path.join(FIXTURES, 'forksafe-preload.js')], {
        forkSafe: false,
        stdio: [stdin, 'pipe', 'pipe'],
      });
      expect(preloaded.stderr).toBe('');
      expect(preloaded.stdout).toBe('true\n');
    } finally {
      fs.closeSync(stdin);
    }
  });
});

describe('posix-fork run', () => {
  onLinux('keeps the descriptors it was started with', async () => {
    const { files, stdio } = inheritedFiles();
    const result = await cli(['run', path.join(FIXTURES, 'launch-fds.js')], { stdio });
    expect(result.stderr).toBe('');
    const report = JSON.parse(result.stdout) as FdReport;
    expect(report.pid).toBe(result.pid);
    expect(report.forkSafe).toBe(true);
    expect(report.fds['3']).toBe(files[0]);
    expect(report.fds['4']).toBe(files[1]);
  });

  test('a child_process.fork() of `posix-fork run worker.js` keeps its IPC channel', async () => {
    const result = await runFixture('launch-ipc.js', ['run', 'json'], { forkSafe: false });
    expect(result.stderr).toBe('');
    const report = JSON.parse(result.stdout) as {
      workerPid: number;
      exitCode: number;
      reply: { forkSafe: boolean; pid: number; message: { hello: string } } | null;
    };
    expect(report.exitCode).toBe(0);
    expect(report.reply?.forkSafe).toBe(true);
    expect(report.reply?.pid).toBe(report.workerPid);
    expect(report.reply?.message.hello).toBe('worker');
  });
});

/** Connects to `port`, resolves with what the server sends before closing ('' when `giveUp` settles first). */
function readFrom(port: number, giveUp: Promise<unknown>): Promise<string> {
  return new Promise((resolve) => {
    let data = '';
    const socket = net.connect(port, '127.0.0.1');
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (data += chunk));
    socket.on('close', () => resolve(data));
    socket.on('error', () => resolve(data));
    void giveUp.then(() => socket.destroy());
  });
}

/**
 * `python3 pty-drive.py <command…>`: the command on a new pseudo-terminal, in the foreground.
 * Its session is a process group of its own, killed in afterAll like the driver's.
 */
function onTerminal(command: string[]): {
  pid: Promise<number>;
  exit: Promise<number>;
  type: (key: string) => void;
} {
  const driver = spawn('python3', [path.join(FIXTURES, 'pty-drive.py'), ...command], {
    detached: true,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  groups.add(driver.pid as number);
  let output = '';
  let onPid: (pid: number) => void = () => undefined;
  let onExit: (status: number) => void = () => undefined;
  const pid = new Promise<number>((resolve) => (onPid = resolve));
  const exit = new Promise<number>((resolve) => (onExit = resolve));
  driver.stderr.resume();
  driver.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk;
    const started = /^pid (\d+)$/m.exec(output);
    if (started) {
      groups.add(Number(started[1]));
      onPid(Number(started[1]));
    }
    const ended = /^exit (-?\d+)$/m.exec(output);
    if (ended) onExit(Number(ended[1]));
  });
  return { pid, exit, type: (key) => driver.stdin.write(`${key}\n`) };
}

describe('posix-fork reap', () => {
  onLinux('passes LISTEN_FDS sockets to the command, with LISTEN_PID set to its pid', async () => {
    const portFile = path.join(tmp, 'port');
    const running = runFixture(
      'socket-activate.js',
      [portFile, process.execPath, path.join(FIXTURES, 'socket-activated.js')],
      { forkSafe: false },
    );
    await until(() => readText(portFile) !== '', 20000);
    const reply = await readFrom(Number(readText(portFile)), running);
    const result = await running;
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const match = /^hello from (\d+)\n$/.exec(reply);
    expect(match).not.toBeNull();
    expect(Number(match?.[1])).not.toBe(result.pid); // the command, not reap itself
  });

  onLinuxWithPty(
    'on a terminal: a kill by another process is forwarded once, a typed key reaches the command once',
    async () => {
      const log = path.join(tmp, 'signals.log');
      const lines = () => readText(log).split('\n').filter(Boolean);
      const terminal = onTerminal([
        process.execPath,
        CLI,
        'reap',
        '--',
        process.execPath,
        path.join(FIXTURES, 'signal-log.js'),
        log,
      ]);
      const reaper = await terminal.pid;
      await until(() => lines().includes('ready'), 20000);
      // After `signal` is seen, SIGUSR1 is sent through reap too: a second copy of `signal`
      // forwarded by reap would reach the command before it.
      const once = async (send: () => void, signal: string) => {
        const before = lines().length;
        send();
        await until(() => lines().slice(before).includes(signal), 10000);
        process.kill(reaper, 'SIGUSR1');
        await until(() => lines().slice(before).includes('SIGUSR1'), 10000);
        expect(lines().slice(before)).toEqual([signal, 'SIGUSR1']);
      };
      for (const signal of ['SIGINT', 'SIGQUIT', 'SIGWINCH'] as const) {
        await once(() => process.kill(reaper, signal), signal);
      }
      await once(() => terminal.type('ctrl-c'), 'SIGINT');
      await once(() => terminal.type('ctrl-backslash'), 'SIGQUIT');
      process.kill(reaper, 'SIGTERM');
      expect(await terminal.exit).toBe(0);
      expect(lines().slice(-1)).toEqual(['SIGTERM']);
    },
  );

  test('the native signal-sender record checks its arguments before any system call', () => {
    const functions = [native.signalInfoWatch, native.signalInfoUnwatch, native.signalInfoTake];
    const wrong: Array<[unknown[], string]> = [
      [[], 'ERR_MISSING_ARGS'],
      [['2'], 'ERR_INVALID_ARG_TYPE'],
      [[null], 'ERR_INVALID_ARG_TYPE'],
      [[2, 2], 'ERR_TOO_MANY_ARGS'],
      [[0], 'ERR_OUT_OF_RANGE'],
      [[1.5], 'ERR_OUT_OF_RANGE'],
      [[-1], 'ERR_OUT_OF_RANGE'],
      [[2 ** 40], 'ERR_OUT_OF_RANGE'],
    ];
    for (const fn of functions) {
      for (const [args, code] of wrong) {
        expect(() => Reflect.apply(fn, undefined, args)).toThrow(expect.objectContaining({ code }));
      }
    }
    // Nothing to wrap (no listener; SIGKILL cannot have one), nothing recorded.
    expect(native.signalInfoWatch(os.constants.signals.SIGKILL)).toBe(false);
    expect(native.signalInfoUnwatch(os.constants.signals.SIGUSR2)).toBe(false);
    expect(native.signalInfoTake(os.constants.signals.SIGUSR2)).toBeNull();
  });

  function script(name: string, text: string): string {
    const file = path.join(tmp, name);
    fs.writeFileSync(file, text, { mode: 0o755 });
    return file;
  }

  test('runs an executable without #! with /bin/sh, as execvp does', async () => {
    const file = script('no-shebang', 'echo "sh ran $0 with $*"\nexit 5\n');
    const result = await cli(['reap', '--', file, 'a', 'b']);
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe(`sh ran ${file} with a b\n`);
    expect(result.code).toBe(5);
  });

  test('a command found but not executable (its interpreter is a directory): 126', async () => {
    const file = script('bad-interpreter', `#!${tmp}\n`);
    const result = await cli(['reap', '--', file]);
    expect(result.code).toBe(126);
    expect(result.stderr).toBe(
      `posix-fork reap: cannot execute ${file}: execve EACCES (Permission denied)\n`,
    );
  });
});

describe('posix-fork daemon', () => {
  onLinux('runs an executable without #! with /bin/sh, as execvp does', async () => {
    const file = path.join(tmp, 'daemon-no-shebang');
    fs.writeFileSync(file, 'echo "sh ran $0 with $*"\n', { mode: 0o755 });
    const out = path.join(tmp, 'daemon.out');
    const err = path.join(tmp, 'daemon.err');
    const started = await cli(['daemon', '--stdout', out, '--stderr', err, '--', file, 'x']);
    expect(started.stderr).toBe('');
    expect(started.code).toBe(0);
    await until(() => readText(out) !== '' || readText(err) !== '', 20000);
    expect(readText(err)).toBe('');
    expect(readText(out)).toBe(`sh ran ${file} with x\n`);
  });
});
