// The POSIX layer against the real kernel: each scenario runs in its own node process.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { runFixture, runNode, FIXTURES, FORK_SAFE_ARGS, TIME_SCALE } from './helpers';

async function scenario(name: string, ...args: string[]) {
  const run = await runFixture('posix-syscalls.js', [name, ...args]);
  expect(run.stderr).not.toMatch(/Error/);
  expect(run.code).toBe(0);
  return run.stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line));
}

describe('sessions and process groups', () => {
  test('setsid in a child makes it a session leader and getsid agrees', async () => {
    const [child, parent] = await scenario('setsid');
    expect(child.sid).toBe(child.child);
    expect(child.getsid).toBe(child.child);
    expect(child.getsidOwn).toBe(child.child);
    expect(child.pgid).toBe(child.child);
    expect(child.before.sid).toBe(parent.parentSid);
    expect(child.before.sid).not.toBe(child.child);
    expect(parent.exitCode).toBe(0);
    // The fixture runs as a process-group leader, where setsid() must fail with EPERM.
    expect(parent.asLeader).toEqual({
      name: 'Error',
      code: 'EPERM',
      errno: -1,
      syscall: 'setsid',
      message: 'setsid EPERM (Operation not permitted)',
    });
  });

  test('setpgid(0, 0) makes the child its own group leader', async () => {
    const [child] = await scenario('setpgid');
    expect(child.pgid).toBe(child.child);
  });
});

test('umask returns the previous mask and applies to new files and directories', async () => {
  const [r] = await scenario('umask');
  expect(r.second).toBe(0o027);
  expect(r.third).toBe(0o077);
  expect(r.mode).toBe(0o640);
  expect(r.dirMode).toBe(0o750);
});

describe('file descriptors', () => {
  test('dup2 onto fd 1 in a child redirects its output into a file', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'posix-fork-dup2-'));
    try {
      const [r] = await scenario('dup2', path.join(dir, 'out'));
      expect(r.exitCode).toBe(0);
      expect(r.content).toBe('written by the child through fd 1\n');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('pipe and dup give close-on-exec fds, dup2 an inheritable one; closed fd is EBADF', async () => {
    const [r] = await scenario('dup-pipe');
    expect(r.text).toBe('through the copy');
    expect(r.cloexec).toEqual({ read: true, dup: true, dup2: false });
    expect(r.closed).toMatchObject({ code: 'EBADF', errno: -9, syscall: 'dup' });
  });
});

describe('waitpid and wait', () => {
  test('WNOHANG gives null for a running child, then the decoded exit status', async () => {
    const [r] = await scenario('waitpid');
    expect(r.early).toBeNull();
    expect(r.state).toMatch(/[RS]/);
    expect(r.final).toEqual({
      pid: r.pid,
      status: 42 << 8,
      exitCode: 42,
      signal: null,
      signalNumber: null,
      coreDumped: false,
      stopped: false,
      stopSignal: null,
      continued: false,
    });
    expect(r.exitcode).toBe(42);
    expect(r.again).toMatchObject({ code: 'ECHILD', errno: -10, syscall: 'waitpid' });
    expect(r.again.message).toBe('waitpid ECHILD (No child processes)');
  });

  test('death by signal is decoded, and waitstatusToExitcode gives -N', async () => {
    const [r] = await scenario('signal');
    expect(r.status).toMatchObject({
      exitCode: null,
      signal: 'SIGTERM',
      signalNumber: 15,
      coreDumped: false,
    });
    expect(r.exitcode).toBe(-15);
  });

  test('a core dump sets coreDumped', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'posix-fork-core-'));
    const fixture = path.join(FIXTURES, 'posix-syscalls.js');
    const run = await runNode(['-e', ''], { forkSafe: false }); // warm-up: node is runnable
    expect(run.code).toBe(0);
    const { spawnSync } = await import('child_process');
    const shell = spawnSync(
      'sh',
      ['-c', `ulimit -c 4096 && exec "$0" ${FORK_SAFE_ARGS} "$1" core`, process.execPath, fixture],
      {
        cwd: dir,
        encoding: 'utf8',
        timeout: 20000 * TIME_SCALE,
      },
    );
    fs.rmSync(dir, { recursive: true, force: true });
    expect(shell.status).toBe(0);
    const r = JSON.parse(shell.stdout.trim());
    // The kernel honours the core limit unless core_pattern is a pipe it cannot run.
    const pattern = fs.readFileSync('/proc/sys/kernel/core_pattern', 'utf8').trim();
    expect(r.status).toMatchObject({ signal: 'SIGQUIT', signalNumber: 3 });
    if (!pattern.startsWith('|')) expect(r.status.coreDumped).toBe(true);
  });

  test('WUNTRACED and WCONTINUED report stop and continue', async () => {
    const [r] = await scenario('stopped');
    expect(r.stopped).toMatchObject({
      stopped: true,
      stopSignal: 'SIGSTOP',
      exitCode: null,
      signal: null,
    });
    expect(r.continued).toMatchObject({ continued: true, stopped: false });
    expect(r.killed).toMatchObject({ signal: 'SIGKILL' });
    expect(r.notExit).toMatchObject({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
  });

  test('wait() returns any child, then throws ECHILD', async () => {
    const [r] = await scenario('wait');
    expect(r.status).toMatchObject({ pid: r.pid, exitCode: 7 });
    expect(r.none).toMatchObject({
      code: 'ECHILD',
      syscall: 'wait',
      message: 'wait ECHILD (No child processes)',
    });
  });

  test('waitpid on a process that is not our child throws ECHILD', async () => {
    const [r] = await scenario('echild');
    expect(r.init).toMatchObject({ code: 'ECHILD', errno: -10, syscall: 'waitpid' });
    expect(r.any).toMatchObject({ code: 'ECHILD' });
  });
});

test('status macros decode the platform encoding', () => {
  // Pure functions: safe to call inside the jest worker.

  const pf = require('../dist/src');
  expect(pf.WIFEXITED(3 << 8)).toBe(true);
  expect(pf.WEXITSTATUS(3 << 8)).toBe(3);
  expect(pf.WIFSIGNALED(9)).toBe(true);
  expect(pf.WTERMSIG(9)).toBe(9);
  expect(pf.WCOREDUMP(6 | 0x80)).toBe(true);
  expect(pf.WIFSTOPPED(0x137f)).toBe(true);
  expect(pf.WSTOPSIG(0x137f)).toBe(0x13);
  expect(pf.WIFCONTINUED(0xffff)).toBe(true);
  expect(pf.waitstatusToExitcode(9)).toBe(-9);
  expect(pf.constants).toEqual({ WNOHANG: 1, WUNTRACED: 2, WCONTINUED: 8 });
});

test('the value macros return the raw bits whatever the predicates say, as in C and Python', () => {
  const pf = require('../dist/src');
  // [status, WEXITSTATUS, WTERMSIG, WCOREDUMP, WSTOPSIG]: what glibc's macros and Python's os.W* give.
  const table: Array<[number, number, number, boolean, number]> = [
    [3 << 8, 3, 0, false, 3], // exited 3
    [9, 0, 9, false, 0], // killed by SIGKILL
    [6 | 0x80, 0, 6, true, 0], // SIGABRT with a core
    [0x137f, 0x13, 0x7f, false, 0x13], // stopped by SIGSTOP
    [0xffff, 0xff, 0x7f, true, 0xff], // continued
    [(3 << 8) | 0x80, 3, 0, true, 3],
  ];
  const got = table.map(([status]) => [
    status,
    pf.WEXITSTATUS(status),
    pf.WTERMSIG(status),
    pf.WCOREDUMP(status),
    pf.WSTOPSIG(status),
  ]);
  expect(got).toEqual(table);
  // The decoded WaitStatus still reports only what the predicates allow.
  expect(pf.waitstatusToExitcode(6 | 0x80)).toBe(-6);
});

test('every export rejects a table of wrong arguments with TypeError/RangeError and the process lives', async () => {
  const run = await runFixture('bad-input.js');
  expect(run.code).toBe(0);
  expect(run.signal).toBeNull();
  const report = JSON.parse(run.stdout.trim());
  expect(report.alive).toBe(true);
  const failures = report.results.filter(
    (r: { outcome: string }) => !/^(TypeError|RangeError):ERR_/.test(r.outcome),
  );
  expect(failures).toEqual([]);
  const perFunction = new Map<string, number>();
  for (const r of report.results) perFunction.set(r.name, (perFunction.get(r.name) ?? 0) + 1);
  for (const [, count] of perFunction) expect(count).toBeGreaterThanOrEqual(15);
  expect(perFunction.size).toBeGreaterThanOrEqual(23);
});

test('the internal binding never aborts: a throwing element getter, a growing array, an fd at INT_MAX', async () => {
  const run = await runFixture('native-bad-input.js', [], { timeoutMs: 10000 });
  expect(run.signal).toBeNull();
  expect(run.code).toBe(0);
  const report = JSON.parse(run.stdout.trim());
  // The getter's own exception reaches the caller, before any system call.
  expect(report.execveArgv).toEqual({ name: 'Error', message: 'getter 1' });
  expect(report.execveEnv).toEqual({ name: 'Error', message: 'getter 0' });
  expect(report.spawnArgv).toEqual({ name: 'Error', message: 'getter 0' });
  expect(report.spawnFdMap).toEqual({ name: 'Error', message: 'getter 3' });
  expect(report.resetSignals).toEqual({ name: 'Error', message: 'getter 0' });
  // The array is read up to the length it had: the call goes on to execve, which fails.
  expect(report.growingArgv).toMatchObject({ code: 'ENOENT', syscall: 'execve' });
  // No room above the highest target for the temporary copies: refused before the fork.
  expect(report.fdAtIntMax).toMatchObject({ code: 'EBADF', syscall: 'dup2' });
  expect(report.alive).toBe(true);
});
