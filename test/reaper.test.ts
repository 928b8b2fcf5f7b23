// Zombie reaping with real children: every scenario runs in its own `node --single-threaded`
// (test/fixtures/reap-*.js) and the results are checked against the OS (/proc, statuses).
import * as fs from 'fs';
import { procState, runFixture } from './helpers';

type Brief = { pid: number; exitCode: number | null; signal: string | null };
type Diagnostics = {
  watching: boolean;
  keepAlive: boolean;
  signalReapers: number;
  pendingWaits: number;
};

function lines(stdout: string): Record<string, any>[] {
  return stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line));
}

async function scenario(
  name: string,
): Promise<{ result: Record<string, any>; done: Record<string, any>; stderr: string }> {
  const run = await runFixture('reap-scenarios.js', [name], { timeoutMs: 30000 });
  const out = lines(run.stdout);
  const errors = out.filter((line) => 'error' in line);
  expect(errors).toEqual([]);
  expect(run.code).toBe(0);
  const done = out[out.length - 1];
  expect(done.done).toBe(true);
  return { result: out[0], done, stderr: run.stderr };
}

const noWatchLeft: Diagnostics = {
  watching: false,
  keepAlive: false,
  signalReapers: 0,
  pendingWaits: 0,
};

describe('Reaper (SIGCHLD)', () => {
  test('reaps many overlapping own children while child_process children keep their own exit', async () => {
    const { result, done } = await scenario('mixed');
    const expected = result.expected as Record<
      string,
      { exitCode: number | null; signal: string | null }
    >;
    expect(Object.keys(expected).length).toBe(41);
    // Both Reapers saw every own child, with the exact status, whoever reaped it.
    for (const [pid, want] of Object.entries(expected)) {
      expect(result.first[pid]).toEqual({ pid: Number(pid), ...want });
      expect(result.second[pid]).toEqual({ pid: Number(pid), ...want });
    }
    expect(Object.keys(result.first).sort()).toEqual(Object.keys(expected).sort());
    // child_process children: libuv reaped them and each emitted 'exit' with its code.
    expect(Object.keys(result.spawnSeen).length).toBe(20);
    for (const [pid, code] of Object.entries(result.spawnExpected)) {
      expect(result.spawnSeen[pid]).toEqual({ code, signal: null });
    }
    expect(result.directStatus).toEqual({ pid: expect.any(Number), exitCode: 99, signal: null });
    for (const status of result.waitedStatuses as Brief[]) {
      expect(status).toEqual({ pid: status.pid, ...expected[String(status.pid)] });
    }
    expect(result.waitedStatuses).toHaveLength(10);
    expect(result.leftOver).toEqual([]);
    expect(result.zombies).toEqual([]);
    expect(result.warnings).toEqual([]);
    // The fixture never stopped its Reapers and still ended by itself: they are unref'd.
    expect(done.diagnostics).toMatchObject({ watching: true, keepAlive: false, signalReapers: 2 });
    for (const pid of Object.keys(expected)) expect(procState(Number(pid))).toBeNull();
  });

  test('a started Reaper (signal or polling) does not keep the process alive', async () => {
    const { done } = await scenario('unref');
    expect(done.diagnostics).toMatchObject({ watching: true, keepAlive: false });
  });

  test("scope 'all' reaps every child with waitpid(-1), warns once about child_process", async () => {
    const { result, done, stderr } = await scenario('all');
    const seen = result.seen as Brief[];
    const own = result.own as number[];
    own.forEach((pid, i) => {
      expect(seen).toContainEqual({ pid, exitCode: i + 1, signal: null });
    });
    // The child_process child was taken from Node: the sweep (and both Reapers) have its
    // status, Node never emitted 'exit' for it. That is why 'own' is the default.
    const sleeper = { pid: result.sleeper, exitCode: null, signal: 'SIGTERM' };
    expect(result.stolen).toEqual([sleeper]);
    expect(seen).toContainEqual(sleeper);
    expect(seen).toHaveLength(11);
    expect(result.sleeperExit).toBeNull();
    expect(result.seenSecond).toEqual(seen);
    expect(result.warnings).toEqual([{ name: 'Warning', code: 'POSIX_FORK_REAP_ALL' }]);
    // Printed once, by the parent only (fork children do not repeat it).
    expect(stderr.match(/POSIX_FORK_REAP_ALL/g)).toHaveLength(1);
    expect(result.zombies).toEqual([]);
    expect(done.diagnostics).toEqual(noWatchLeft);
  });

  test('a Reaper inherited by a fork child reaps its children; stop/start in the child works', async () => {
    const { result, done } = await scenario('in-child');
    const child = result.fromChild;
    expect(child.inherited).toEqual({
      started: true,
      diagnostics: { watching: true, keepAlive: false, signalReapers: 1, pendingWaits: 0 },
    });
    expect(child.childSeen).toEqual([
      { pid: child.g1, exitCode: 21, signal: null },
      { pid: child.g2, exitCode: 22, signal: null },
    ]);
    expect(child.diagnostics).toMatchObject({ watching: false, signalReapers: 0 });
    expect(result.seen).toEqual([{ pid: result.child, exitCode: 20, signal: null }]);
    expect(result.zombies).toEqual([]);
    expect(done.diagnostics).toEqual(noWatchLeft);
  });

  test("a throwing 'exit' listener does not stop the reaping of the others", async () => {
    const { result } = await scenario('throwing-listener');
    const expected = (result.pids as number[]).map((pid, i) => ({
      pid,
      exitCode: 40 + i,
      signal: null,
    }));
    expect(result.waited).toEqual(expected);
    expect([...result.seen].sort((a: Brief, b: Brief) => a.pid - b.pid)).toEqual(expected);
    expect(result.thrown).toBe(1);
    expect(result.zombies).toEqual([]);
  });

  test('≥ 200 children exiting together are all reaped with exact codes, no zombie 1 s after', async () => {
    const run = await runFixture('reap-load.js', ['250'], { timeoutMs: 60000 });
    expect(run.code).toBe(0);
    const [result] = lines(run.stdout);
    expect(result).toMatchObject({
      done: true,
      count: 250,
      reaped: 250,
      missing: 0,
      wrongCodes: 0,
      zombies: [],
    });
    expect(result.diagnostics).toEqual(noWatchLeft);
    expect(result.resources).not.toContain('ProcessWrap');
  });
});

describe('polling and one-shot reaping', () => {
  test('the polling Reaper reaps without watching SIGCHLD', async () => {
    const { result, done } = await scenario('poll');
    expect(result.watchingWhilePolling).toBe(false);
    const byPid = (a: Brief, b: Brief) => a.pid - b.pid;
    const want = (result.own as number[]).map((pid, i) => ({
      pid,
      exitCode: 30 + i,
      signal: null,
    }));
    expect([...result.seen].sort(byPid)).toEqual(want.sort(byPid));
    // After stop(), an ended child stays a zombie until someone reaps it.
    expect(result.stateWhileStopped).toBe('Z');
    expect(result.lateStatus).toEqual([{ pid: result.late, exitCode: 4, signal: null }]);
    expect(result.allSeen).toEqual([{ pid: result.another, exitCode: 12, signal: null }]);
    expect(done.zombies).toEqual([]);
    expect(done.diagnostics).toEqual(noWatchLeft);
  });

  test('reapChildren(): a zombie is seen in Z by processInfo, reaped, then gone', async () => {
    const { result, done } = await scenario('reap-children');
    expect(result.none).toEqual([]);
    // The fixture runs the jest worker's own binary: 'node', or 'MainThread' on Node 24.
    const command = fs.readFileSync('/proc/self/comm', 'utf8').trim();
    expect(result.zombieInfo).toMatchObject({ pid: result.pid, state: 'Z', command });
    expect(result.reaped).toEqual([{ pid: result.pid, exitCode: 3, signal: null }]);
    expect(result.after).toBeNull();
    // One sweep reaps every ended child and leaves the running one alone.
    expect(result.sweep).toEqual(
      (result.quick as number[]).map((pid, i) => ({ pid, exitCode: i + 1, signal: null })),
    );
    expect(result.slowState).not.toBe('Z');
    expect(result.slowStatus).toMatchObject({ exitCode: 9 });
    expect(result.allSweep).toEqual([{ pid: result.allScope, exitCode: 6, signal: null }]);
    expect(result.zombies).toEqual([]);
    expect(done.diagnostics).toEqual(noWatchLeft);
  });
});

describe('waitFor()', () => {
  test('resolves with or without a Reaper, whoever reaps, and rejects ECHILD for strangers', async () => {
    const { result, done } = await scenario('wait-for');
    expect(result.noReaper[0]).toMatchObject({ exitCode: 5, signal: null });
    expect(result.noReaper[1]).toEqual(result.noReaper[0]);
    expect(result.endedBeforeLook[0]).toMatchObject({ exitCode: 4, signal: null });
    expect(result.endedBeforeLook[1]).toEqual(result.endedBeforeLook[0]);
    expect(result.afterDirectWaitpid.waitFor).toEqual(result.afterDirectWaitpid.direct);
    expect(result.afterDirectWaitpid.direct).toMatchObject({ exitCode: 6 });
    // The kept status is handed out once; then the pid is no child of ours.
    expect(result.secondClaim).toMatchObject({ code: 'ECHILD', syscall: 'waitpid' });
    expect(result.withReaper).toMatchObject({ exitCode: 7 });
    expect(result.afterReaper).toMatchObject({ exitCode: 8 });
    expect(result.reaperSaw).toEqual([result.withReaper, result.afterReaper]);
    const echild = {
      name: 'Error',
      code: 'ECHILD',
      errno: -10,
      syscall: 'waitpid',
      message: 'waitpid ECHILD (No child processes)',
    };
    expect(result.notAChild).toEqual(echild);
    expect(result.self).toEqual(echild);
    expect(result.killed).toMatchObject({ exitCode: null, signal: 'SIGKILL' });
    expect(result.diagnosticsAfter).toEqual(noWatchLeft);
    // A pending waitFor() alone kept the fixture alive until its child ended.
    expect(done.keptAlive).toMatchObject({ exitCode: 11 });
    expect(done.diagnostics).toEqual(noWatchLeft);
  });
});

describe('setChildSubreaper()', () => {
  const linux = process.platform === 'linux' ? test : test.skip;
  linux("adopts an orphaned grandchild, which scope 'all' then reaps", async () => {
    const { result, done } = await scenario('subreaper');
    const { orphan } = result;
    expect(orphan.parentAtStart).toBe(result.middle);
    expect(orphan.adoptedBy).toBe(result.me);
    expect(orphan.info).toMatchObject({ pid: orphan.grandchild, ppid: result.me });
    expect(result.seen).toEqual([
      { pid: result.middle, exitCode: 2, signal: null },
      { pid: orphan.grandchild, exitCode: 7, signal: null },
    ]);
    expect(result.after).toBeNull();
    expect(result.zombies).toEqual([]);
    expect(done.diagnostics).toEqual(noWatchLeft);
  });
});

describe('bad input', () => {
  test('every reaping export rejects ≥ 15 wrong values with TypeError/RangeError and the process survives', async () => {
    const run = await runFixture('reap-bad-input.js');
    expect(run.code).toBe(0);
    const [report] = lines(run.stdout);
    expect(report.alive).toBe(true);
    expect(report.reaperStarted).toBe(false);
    expect(report.diagnostics).toEqual(noWatchLeft);
    const counts = new Map<string, number>();
    const allowed =
      /^(TypeError:ERR_(INVALID_ARG_TYPE|INVALID_ARG_VALUE|MISSING_ARGS|TOO_MANY_ARGS)|RangeError:ERR_OUT_OF_RANGE)$/;
    for (const { name, args, outcome } of report.results as {
      name: string;
      args: string[];
      outcome: string;
    }[]) {
      if (name === 'Reaper (without new)') {
        expect(outcome).toMatch(/^TypeError:/); // the class constructor's own error
        continue;
      }
      expect({ name, args, outcome }).toEqual({
        name,
        args,
        outcome: expect.stringMatching(allowed),
      });
      counts.set(name, (counts.get(name) ?? 0) + 1);
    }
    for (const name of [
      'waitFor',
      'processInfo',
      'reapChildren',
      'Reaper',
      'setChildSubreaper',
      'Reaper#start',
      'Reaper#stop',
      'reaperDiagnostics',
    ]) {
      expect([name, counts.get(name) ?? 0]).toEqual([name, expect.any(Number)]);
      expect(counts.get(name)).toBeGreaterThanOrEqual(15);
    }
  });
});
