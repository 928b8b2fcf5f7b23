// Process (multiprocessing.Process on a real fork): every scenario runs in its own
// `node --single-threaded` process; results are checked through exit statuses and /proc.
import { notArgumentErrors, procState, runFixture } from './helpers';

async function scenario(name: string) {
  const run = await runFixture('process-scenarios.js', [name]);
  expect(run.code).toBe(0);
  const lines = run.stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line));
  expect(lines[lines.length - 1]).toEqual({ done: name });
  return { lines: lines.slice(0, -1), stderr: run.stderr, pid: run.pid };
}

describe('the classic programs', () => {
  test('independent memory: each child makes num 101, the parent keeps 100', async () => {
    const { lines } = await scenario('memory');
    const children = lines.filter((l) => 'child' in l);
    expect(children.map((c) => c.child).sort()).toEqual(['user001', 'user002', 'user003']);
    for (const c of children) expect(c.num).toBe(101);
    expect(new Set(children.map((c) => c.pid)).size).toBe(3);
    const last = lines[lines.length - 1];
    expect(last).toEqual({ parentNum: 100, codes: [0, 0, 0], results: [101, 101, 101] });
  });

  test('join ordering: start all then join all, and join in the loop, both run every child', async () => {
    const { lines } = await scenario('join-order');
    const [r] = lines;
    const expected = [
      [0, 10],
      [0, 20],
      [0, 30],
      [0, 40],
    ];
    expect(r.startAll).toEqual(expected);
    expect(r.serial).toEqual(expected);
    expect(r.zombies).toEqual([]);
  });

  test('subclassing with run(); names Process-N, SubclassName-N, Process-N:M', async () => {
    const { lines } = await scenario('names');
    const [r] = lines;
    expect(r.names).toEqual(['Process-1', 'custom', 'Worker-3', 'Process-4']);
    expect(r.main).toBe('MainProcess');
    expect(r.worker.code).toBe(0);
    expect(r.worker.result).toEqual({ i: 7, name: 'Worker-3', same: true, pid: r.worker.pid });
    expect(r.nested).toEqual({
      code: 0,
      result: { me: 'Process-4', inner: 'Process-4:1', innerResult: 'Process-4:1', code: 0 },
    });
    expect(r.empty).toEqual({ code: 0 }); // no target: nothing runs, exit 0, result undefined
    expect(r.inspect).toBe(
      `<Worker name='Worker-3' pid=${r.worker.pid} parent=${r.inspect.match(/parent=(\d+)/)[1]} stopped exitcode=0>`,
    );
  });

  test('start() reaps the finished children first, leaving one zombie at most', async () => {
    const { lines } = await scenario('cleanup');
    const [r] = lines;
    // After each start only the newest child is still a zombie; the earlier ones are gone.
    r.afterStart.forEach((states: (string | null)[], i: number) => {
      expect(states[i]).toBe('Z');
      expect(states.slice(0, i).every((s) => s === null)).toBe(true);
    });
    expect(r.lastBefore).toBe('Z');
    expect(r.active).toBe(0);
    expect(r.lastAfter).toBeNull();
    expect(r.alive).toBe(false);
    expect(r.xAfter).toBeNull();
    expect(r.exitCode).toBe(0);
    expect(r.result).toBe(4);
    expect(r.yAfter).toBeNull();
  });
});

describe("Python's rules", () => {
  test('start twice, daemon after start, join before start, daemonic children, foreign objects', async () => {
    const { lines } = await scenario('rules');
    const [r] = lines;
    expect(r.joinBeforeStart).toEqual({
      code: 'ERR_PROCESS_NOT_STARTED',
      message: 'can only join a started process',
    });
    expect(r.joinSyncBeforeStart.code).toBe('ERR_PROCESS_NOT_STARTED');
    expect(r.terminateBeforeStart.code).toBe('ERR_PROCESS_NOT_STARTED');
    expect(r.killBeforeStart.code).toBe('ERR_PROCESS_NOT_STARTED');
    expect(r.aliveBeforeStart).toBe(false);
    expect(r.exitCodeBeforeStart).toBeNull();
    expect(r.pidBeforeStart).toBeNull();
    expect(r.startTwice).toEqual({
      name: 'Error',
      code: 'ERR_PROCESS_ALREADY_STARTED',
      message: 'cannot start a process twice',
    });
    expect(r.daemonAfterStart).toEqual({
      name: 'Error',
      code: 'ERR_PROCESS_ALREADY_STARTED',
      message: 'process has already started',
    });
    expect(r.daemonStill).toBe(false);
    expect(r.renameAfterStart).toBeNull(); // as in Python, the name may change at any time
    expect(r.name).toBe('renamed');
    expect(r.code).toBe(0);
    expect(r.startAfterEnd.code).toBe('ERR_PROCESS_ALREADY_STARTED');
    expect(r.daemonic.code).toBe(0);
    expect(r.daemonic.result).toEqual({
      innerDaemon: true,
      current: true,
      start: {
        name: 'Error',
        code: 'ERR_DAEMONIC_PROCESS_CHILDREN',
        message: 'daemonic processes are not allowed to have children',
      },
    });
    expect(r.daemonicThrow).toEqual({
      code: 1,
      error: 'daemonic processes are not allowed to have children',
    });
    expect(r.inChild.code).toBe(0);
    expect(r.inChild.result.joinSibling.code).toBe('ERR_NOT_A_CHILD_PROCESS');
    expect(r.inChild.result.aliveSibling.message).toBe('can only test a child process');
    expect(r.inChild.result.terminateSibling.code).toBe('ERR_NOT_A_CHILD_PROCESS');
    expect(r.inChild.result.selfAlive).toBe(true);
    expect(r.inChild.result.selfJoin.message).toBe('can only join a child process');
    expect(r.inChild.result.activeInChild).toBe(0);
    expect(r.main.start.code).toBe('ERR_PROCESS_ALREADY_STARTED');
    expect(r.main.join.code).toBe('ERR_NOT_A_CHILD_PROCESS');
    expect(r.main.alive).toBe(true);
    expect(r.main.daemon.code).toBe('ERR_PROCESS_ALREADY_STARTED');
    expect(r.main.exitCode).toBeNull();
  });

  test("the target's error is printed in the child with exit code 1; process.exit(n) gives n", async () => {
    const { lines, stderr } = await scenario('errors');
    const [r] = lines;
    expect(r.throwSync).toMatchObject({ code: 1, exitCode: 1, name: 'Process-1' });
    expect(r.throwSync.error).toEqual({
      name: 'CustomError',
      message: 'sync boom',
      code: 'E_CUSTOM',
      stackHasFrame: true,
    });
    expect(r.rejectAsync.code).toBe(1);
    expect(r.rejectAsync.error).toEqual({
      name: 'TypeError',
      message: 'async boom',
      stackHasFrame: true,
    });
    expect(r.throwString.code).toBe(1);
    expect(r.throwString.error).toMatchObject({ name: 'Error', message: 'plain string' });
    expect(r.exit7).toEqual({ code: 7, exitCode: 7, error: null, name: 'Process-4' });
    expect(r.exitAsync).toEqual({ code: 9, exitCode: 9, error: null, name: 'Process-5' });
    // process.exitCode inside a target that returns does not matter: run() returned, exit 0.
    expect(r.exitCodeIgnored).toEqual({
      code: 0,
      exitCode: 0,
      result: 'ok',
      error: null,
      name: 'Process-6',
    });
    expect(stderr).toMatch(/^Process Process-1:\n.*sync boom/m);
    expect(stderr).toMatch(/^Process Process-2:\nTypeError: async boom/m);
    expect(stderr).toMatch(/^Process Process-3:\nUncaught 'plain string'/m);
  });
});

describe('results through the pipe', () => {
  test('return values, Promise values, large values (sync and async join), uncloneable values', async () => {
    const { lines, stderr } = await scenario('results');
    const [r] = lines;
    for (const key of ['nested', 'buffer', 'big', 'bigint', 'nothing', 'nul']) {
      expect(r[key]).toMatchObject({ code: 0, error: null, same: true });
    }
    expect(r.nested.type).toBe('Object');
    expect(r.buffer.type).toBe('Buffer');
    expect(r.bigint.type).toBe('BigInt');
    expect(r.nothing.type).toBe('undefined');
    expect(r.smalls).toEqual(Array(12).fill(true));
    expect(r.async).toEqual({ code: 0, result: { x: 42 } });
    expect(r.bigSync).toEqual({ code: 0, length: 2 * 1024 * 1024 });
    expect(r.unserializable).toEqual({
      code: 1,
      error: { name: 'Error', message: '() => 1 could not be cloned.' },
    });
    expect(stderr).toMatch(/Process Process-\d+:\n.*could not be cloned/);
  });

  test('an async run() leaves the parent code in the child by a silent unwind', async () => {
    const { lines, stderr } = await scenario('unwind');
    const parentPid = lines.find((l) => 'afterStart' in l).afterStart;
    // Only the parent ran the code after start(); the child's catch saw the unwind error.
    expect(lines.filter((l) => 'afterStart' in l).every((l) => l.afterStart === parentPid)).toBe(
      true,
    );
    const caught = lines.filter((l) => 'caught' in l);
    expect(caught).toHaveLength(1);
    expect(caught[0].caught).toBe('ERR_PROCESS_CHILD_UNWIND');
    const r = lines[lines.length - 1];
    expect(r.code).toBe(0);
    expect(r.result).toBe(caught[0].pid);
    expect(r.late).toEqual({ code: 1, error: null });
    expect(stderr).toMatch(/Error: late failure/);
    expect(stderr).not.toMatch(/ChildUnwind|ERR_PROCESS_CHILD_UNWIND/);
    expect(r.stuck).toEqual({ code: 0 });
  });

  test("an async run() starts its own children; many children's large results at once", async () => {
    const { lines } = await scenario('nested');
    const r = lines[lines.length - 1];
    // The grandchild left the child's code too: only the child itself reported after start().
    expect(lines.filter((l) => 'afterNestedStart' in l)).toEqual([
      { afterNestedStart: r.childPid },
    ]);
    expect(r.code).toBe(0);
    expect(r.result).toEqual({ sync: [0, 2], async: [0, 'Process-1:2'], me: r.childPid });
    expect(r.many).toEqual(Array(8).fill(true));
  });

  test('a plain fork() next to a running Process child does not take its result', async () => {
    const { lines } = await scenario('plain-fork');
    expect(lines[0]).toEqual({ code: 0, result: 'mine', plain: 0 });
  });

  test("the parent's 'exit' listeners do not run in the child; the child's own do", async () => {
    const run = await runFixture('process-scenarios.js', ['exit-listeners']);
    expect(run.code).toBe(0);
    const lines = run.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    const r = lines.find((l) => 'code' in l && 'parent' in l);
    expect(lines.filter((l) => 'exitListener' in l)).toEqual([
      { exitListener: 'child', pid: r.pid, code: 0 },
      { exitListener: 'parent', pid: r.parent },
    ]);
  });

  test("the child ends when run() ends, not waiting for the parent's timers and server", async () => {
    const { lines } = await scenario('inherited');
    const [r] = lines;
    expect(r).toMatchObject({ code: 0, result: 'done', asyncCode: 0, asyncResult: 'async done' });
  });
});

describe('signals, timeouts, reaping', () => {
  test('terminate gives -15, kill -9, other signals -N; join(timeout) gives null', async () => {
    const { lines } = await scenario('signals');
    const [r] = lines;
    expect(r).toEqual({
      timeout: null,
      timeoutSync: null,
      aliveAfterTimeout: true,
      exitCodeWhileRunning: null,
      terminated: -15,
      terminatedExitCode: -15,
      terminateAfterEnd: null,
      killed: -9,
      otherSignal: -12,
      joinZero: null,
      joinMany: [0, 0, 0],
      zombies: [],
    });
  });

  test('a Reaper, waitpid, waitpid(-1) or waitFor reaping the child: the status still arrives', async () => {
    const { lines } = await scenario('others');
    const [r] = lines;
    expect(r.reaper).toEqual({ state: null, exitCode: 0, result: 'r', join: 0 });
    expect(r.reaperJoin).toEqual({ join: 6, byReaper: true });
    expect(r.waitpid).toEqual({ status: 0, alive: false, exitCode: 0, result: 12 });
    expect(r.waitAny).toEqual({ same: true, join: 0 });
    expect(r.waitFor).toEqual({ join: 0, waitFor: 0 });
  });

  test('activeChildren lists running children and reaps finished ones', async () => {
    const { lines } = await scenario('active');
    expect(lines[0]).toEqual({ counts: [3, 2, 0], codes: [0, 0, 0] });
  });
});

describe("the parent's end", () => {
  async function parentEnd(args: string[], withPlain: boolean) {
    const run = await runFixture('process-exit.js', args, {
      env: { WITH_PLAIN: withPlain ? '1' : '0' },
    });
    const lines = run.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    const pids = lines.find((l) => 'daemon' in l && 'parent' in l);
    return { run, lines, pids };
  }

  function expectDaemonStopped(lines: Record<string, unknown>[], pids: { daemon: number }) {
    expect(lines).toContainEqual({ task: 'daemon', event: 'starting', pid: pids.daemon });
    expect(lines.find((l) => l.task === 'daemon' && l.event === 'ending')).toBeUndefined();
    expect(procState(pids.daemon)).toBeNull(); // terminated and reaped by the parent
  }

  function expectPlainWaitedFor(
    lines: Record<string, unknown>[],
    pids: { parent: number; plain: number },
  ) {
    // It ran to its end while the parent was still its parent (not re-parented to init).
    expect(lines).toContainEqual({
      task: 'plain',
      event: 'ending',
      pid: pids.plain,
      ppid: pids.parent,
    });
    expect(procState(pids.plain)).toBeNull();
  }

  test.each([
    ['natural', 0],
    ['exit', 3],
    ['throw', 1],
  ])('%s end: daemonic child terminated, non-daemonic child waited for', async (mode, code) => {
    const { run, lines, pids } = await parentEnd([mode as string], true);
    expect(run.code).toBe(code);
    expect(run.signal).toBeNull();
    expectDaemonStopped(lines, pids);
    expectPlainWaitedFor(lines, pids);
    if (mode === 'throw') expect(run.stderr).toMatch(/Error: the parent fails/);
  });

  test.each(['SIGTERM', 'SIGINT'])(
    '%s: daemonic child terminated, the parent still dies by the signal',
    async (signal) => {
      const { run, lines, pids } = await parentEnd(['signal', signal], false);
      expect(run.code).toBeNull();
      expect(run.signal).toBe(signal);
      expectDaemonStopped(lines, pids);
    },
  );

  test('a SIGTERM listener of the program keeps the decision; its process.exit still stops daemons', async () => {
    const { run, lines, pids } = await parentEnd(['own-sigterm'], false);
    expect(run.code).toBe(4);
    expect(lines).toContainEqual({ parent: 'own SIGTERM listener' });
    expectDaemonStopped(lines, pids);
  });
});

test('bad input: every export rejects wrong arguments with TypeError/RangeError, nothing crashes', async () => {
  const run = await runFixture('process-bad-input.js');
  expect(run.code).toBe(0);
  const r = JSON.parse(run.stdout);
  const counts = new Map<string, number>();
  for (const entry of r.results) counts.set(entry.label, (counts.get(entry.label) ?? 0) + 1);
  for (const [, n] of counts) expect(n).toBeGreaterThanOrEqual(5);
  const perExport = (prefix: RegExp) =>
    r.results.filter((e: { label: string }) => prefix.test(e.label)).length;
  expect(perExport(/^(new Process|options\.|unknown option)/)).toBeGreaterThanOrEqual(15);
  expect(perExport(/^currentProcess/)).toBeGreaterThanOrEqual(15);
  expect(perExport(/^activeChildren/)).toBeGreaterThanOrEqual(15);
  expect(notArgumentErrors(r.results)).toEqual([]);
  expect(r.child).toEqual({
    code: 0,
    result: 'fine',
    idleStarted: null,
    idleName: 'Process-1',
    idleDaemon: false,
  });
  expect(r.active).toBe(0);
});
