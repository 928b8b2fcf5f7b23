// processInfo() against what ps(1) and the kernel say, on real processes (no fork here: the
// jest process only spawns ordinary programs; zombies are tested in reaper.test.ts).
import { ChildProcess, execFileSync, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DIST, until } from './helpers';

const pf = require(DIST) as typeof import('../src');

function ps(pid: number): string[] {
  return execFileSync('ps', ['-o', 'pid=,ppid=,pgid=,sid=,stat=,tty=,comm=', '-p', String(pid)], {
    encoding: 'utf8',
  })
    .trim()
    .split(/\s+/);
}

const started: ChildProcess[] = [];
afterEach(() => {
  for (const child of started.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
});

function startSleeper(file = 'sleep'): Promise<ChildProcess> {
  const child = spawn(file, ['30'], { stdio: 'ignore' });
  started.push(child);
  return new Promise((resolve, reject) => {
    child.once('spawn', () => resolve(child));
    child.once('error', reject);
  });
}

const linux = process.platform === 'linux' ? test : test.skip;

describe('processInfo()', () => {
  test('this process: the same fields as ps shows', () => {
    const info = pf.processInfo(process.pid);
    const [pid, ppid, pgid, sid, , tty, comm] = ps(process.pid);
    expect(info).toEqual({
      pid: Number(pid),
      ppid: Number(ppid),
      pgid: Number(pgid),
      sid: Number(sid),
      state: 'R', // ps sees this process asleep, waiting for ps; reading itself, it runs
      tty: tty === '?' || tty === '??' ? null : tty,
      command: comm.slice(comm.lastIndexOf('/') + 1),
    });
    expect(info).toMatchObject({
      ppid: process.ppid,
      pgid: pf.getpgid(),
      sid: pf.getsid(),
      state: 'R',
    });
  });

  test('a sleeping child is S, a stopped one T, a reaped one gone', async () => {
    const child = await startSleeper();
    const pid = child.pid as number;
    await until(() => pf.processInfo(pid)?.state === 'S');
    expect(pf.processInfo(pid)).toMatchObject({ pid, ppid: process.pid, command: 'sleep' });
    child.kill('SIGSTOP');
    await until(() => pf.processInfo(pid)?.state === 'T');
    child.kill('SIGCONT');
    await until(() => pf.processInfo(pid)?.state === 'S');
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited; // libuv reaped it
    expect(pf.processInfo(pid)).toBeNull();
  });

  linux('a name with spaces and parentheses is parsed from the last ")"', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'procinfo-'));
    const odd = path.join(dir, 'a b) (c');
    try {
      fs.copyFileSync(
        execFileSync('sh', ['-c', 'command -v sleep'], { encoding: 'utf8' }).trim(),
        odd,
      );
      fs.chmodSync(odd, 0o755);
      const child = await startSleeper(odd);
      const pid = child.pid as number;
      await until(() => pf.processInfo(pid)?.state === 'S');
      expect(pf.processInfo(pid)).toMatchObject({
        pid,
        ppid: process.pid,
        pgid: pf.getpgid(),
        sid: pf.getsid(),
        state: 'S',
        command: 'a b) (c',
      });
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('init and a pid that cannot exist', () => {
    expect(pf.processInfo(1)).toMatchObject({ pid: 1, ppid: 0 });
    expect(pf.processInfo(2147483647)).toBeNull();
  });

  test('bad pids throw TypeError/RangeError', () => {
    const bad: unknown[] = [
      '1',
      '',
      1.5,
      -1,
      0,
      NaN,
      Infinity,
      -Infinity,
      2 ** 31,
      null,
      undefined,
      {},
      [],
      true,
      Symbol('s'),
      1n,
      () => 1,
      new Number(1),
    ];
    for (const value of bad) {
      let error: NodeJS.ErrnoException | undefined;
      try {
        (pf.processInfo as (v: unknown) => unknown)(value);
      } catch (e) {
        error = e as NodeJS.ErrnoException;
      }
      expect(error?.name).toMatch(/^(TypeError|RangeError)$/);
      expect(error?.code).toMatch(/^ERR_(INVALID_ARG_TYPE|OUT_OF_RANGE)$/);
    }
    expect(() => (pf.processInfo as () => unknown)()).toThrow(
      expect.objectContaining({ code: 'ERR_MISSING_ARGS' }),
    );
    expect(() => (pf.processInfo as (a: number, b: number) => unknown)(1, 2)).toThrow(
      expect.objectContaining({ code: 'ERR_TOO_MANY_ARGS' }),
    );
  });
});
