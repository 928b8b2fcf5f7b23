// fork(): every scenario runs as a fixture in its own `node --single-threaded` process.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  FIXTURES,
  FORK_SAFE_ARGS,
  FORK_SAFE_FLAGS,
  ROOT,
  TIME_SCALE,
  runFixture,
  runNode,
} from './helpers';

const lines = (text: string) => text.trim().split('\n').filter(Boolean);
const json = (text: string) => lines(text).map((line) => JSON.parse(line));

describe('the classic recipe: fork returns twice', () => {
  test('the child changes its copy; the parent keeps its own; children in a loop are independent', async () => {
    const run = await runFixture('fork-classic.js');
    expect(run.code).toBe(0);
    const out = lines(run.stdout);
    const parentPid = run.pid;
    expect(out[0]).toBe(`parent pid=${parentPid} before fork`);
    const child = /^child pid=(\d+) ppid=(\d+) source=9$/.exec(out[1]);
    expect(child).not.toBeNull();
    expect(Number(child![2])).toBe(parentPid);
    expect(Number(child![1])).not.toBe(parentPid);
    expect(out[2]).toBe(`parent pid=${parentPid} child=${child![1]} source=10`);
    const loopChildren = out.filter((l) => l.startsWith('loop child'));
    expect(loopChildren.sort()).toEqual(
      [0, 1, 2].map((i) =>
        expect.stringMatching(
          new RegExp(`^loop child i=${i} pid=\\d+ ppid=${parentPid} counter=${i + 101}$`),
        ),
      ),
    );
    expect(out.filter((l) => l.startsWith('reaped')).map((l) => l.split(' ')[2])).toEqual([
      'exitCode=10',
      'exitCode=11',
      'exitCode=12',
    ]);
    expect(out[out.length - 1]).toBe('parent counter=3');
  });
});

describe('every way a child ends gives the right status, runs exit listeners once, keeps output', () => {
  // [mode, the parent's report, the code 'exit' listeners receive]
  const cases: Array<[string, string, number]> = [
    ['exit', 'exitCode=3 signal=null', 3],
    ['exitCode', 'exitCode=4 signal=null', 4],
    ['natural', 'exitCode=0 signal=null', 0],
    ['throw', 'exitCode=1 signal=null', 1],
    ['reject', 'exitCode=1 signal=null', 1],
    ['handled', 'exitCode=9 signal=null', 9],
    // process.exit(6) inside an 'exit' listener of process.exit(5): listeners saw 5, as in Node.
    ['exitInListener', 'exitCode=6 signal=null', 5],
  ];
  test.each(cases)('%s', async (mode, status, code) => {
    const run = await runFixture('fork-exit.js', [mode]);
    expect(run.code).toBe(0);
    const out = lines(run.stdout);
    const childPid = Number(/^child pid=(\d+) big=100000$/.exec(out[0])![1]);
    expect(out).toContain('child did its work');
    expect(out).toContain(`parent status ${status}`);
    // 'exit' listeners of the child, registered before and after the fork, ran exactly once.
    expect(out.filter((l) => l === `exit-before-fork pid=${childPid} code=${code}`)).toHaveLength(
      1,
    );
    expect(out.filter((l) => l === `exit-after-fork pid=${childPid} code=${code}`)).toHaveLength(1);
    expect(out.filter((l) => l.startsWith(`exit-before-fork pid=${run.pid}`))).toHaveLength(1);
    // Node emits 'beforeExit' only on a natural end.
    const natural = mode === 'natural' || mode === 'exitCode' || mode === 'handled';
    expect(out.some((l) => l.startsWith(`beforeExit pid=${childPid}`))).toBe(natural);
    expect(run.stderr).toContain('child stderr line');
    if (mode === 'throw') expect(run.stderr).toMatch(/Error: boom from the child\n\s+at /);
    if (mode === 'reject') expect(run.stderr).toContain('Error: rejected in the child');
  });

  test('an uncaught exception still ends the child with 1 after it removed every exit listener', async () => {
    const run = await runFixture('fork-exit.js', ['throwWithoutExitListeners']);
    expect(lines(run.stdout)).toContain('parent status exitCode=1 signal=null');
    expect(run.stderr).toMatch(/Error: boom without listeners\n\s+at /);
  });

  test('death by signal', async () => {
    const run = await runFixture('fork-exit.js', ['signal']);
    const out = lines(run.stdout);
    expect(out).toContain('parent status exitCode=null signal=SIGTERM');
    expect(out.filter((l) => l.startsWith('exit-after-fork'))).toEqual([]);
  });

  const many = Array.from({ length: 2000 }, (_, i) => `line ${i} ${'x'.repeat(60)}`);

  test('output before the end is not lost: pipe', async () => {
    const run = await runFixture('fork-exit.js', ['many']);
    const out = lines(run.stdout);
    expect(out.filter((l) => l.startsWith('line '))).toEqual(many);
  });

  test('output before the end is not lost: a pipe whose reader is slow (the pipe fills up)', () => {
    const fixture = path.join(FIXTURES, 'fork-exit.js');
    const run = spawnSync(
      'sh',
      ['-c', `"$0" ${FORK_SAFE_ARGS} "$1" many | (sleep 1; cat)`, process.execPath, fixture],
      {
        encoding: 'utf8',
        timeout: 20000 * TIME_SCALE,
      },
    );
    expect(run.status).toBe(0);
    expect(lines(run.stdout).filter((l) => l.startsWith('line '))).toEqual(many);
  });

  test('output before the end is not lost: file', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'posix-fork-out-'));
    const file = path.join(dir, 'out');
    const fd = fs.openSync(file, 'w');
    let out: string[];
    let code: number | null;
    try {
      const run = await runFixture('fork-exit.js', ['many'], { stdio: ['ignore', fd, 'pipe'] });
      code = run.code;
      out = lines(fs.readFileSync(file, 'utf8'));
    } finally {
      fs.closeSync(fd);
      fs.rmSync(dir, { recursive: true, force: true });
    }
    expect(code).toBe(0);
    expect(out.filter((l) => l.startsWith('line '))).toEqual(many);
    expect(out).toContain('parent status exitCode=0 signal=null');
  });

  test('output before the end is not lost: TTY', () => {
    // script(1) gives the fixture a pseudo-terminal as stdout.
    const command = `${process.execPath} ${FORK_SAFE_ARGS} ${path.join(FIXTURES, 'fork-exit.js')} many`;
    const run = spawnSync('script', ['-qec', command, '/dev/null'], {
      encoding: 'utf8',
      timeout: 20000 * TIME_SCALE,
    });
    expect(run.status).toBe(0);
    const out = run.stdout.split(/\r?\n/);
    expect(out.filter((l) => l.startsWith('line '))).toEqual(many);
    expect(out).toContain('parent status exitCode=0 signal=null');
  });
});

describe("fork() inside an 'exit' listener", () => {
  // [how the parent ends, the code its 'exit' listeners and the child get]
  const cases: Array<[string, number]> = [
    ['natural', 0],
    ['exitCode', 3],
    ['exit', 2],
  ];
  test.each(cases)(
    '%s: the child runs the remaining listeners and ends with the code',
    async (mode, code) => {
      const run = await runFixture('fork-at-exit.js', [mode]);
      const out = lines(run.stdout);
      const child = /^child (\d+) in the listener, code=(\d+)$/.exec(out[0]);
      expect(child).not.toBeNull();
      expect(Number(child![2])).toBe(code);
      expect(out.slice(1)).toEqual([
        `later listener in child code=${code}`,
        `parent status exitCode=${code} signal=null`,
        `later listener in parent code=${code}`,
      ]);
      expect(run.code).toBe(code);
    },
  );

  test('natural end outside the fork-safe mode too', async () => {
    const run = await runFixture('fork-at-exit.js', ['natural'], { forkSafe: false });
    expect(lines(run.stdout)).toContain('parent status exitCode=0 signal=null');
    expect(run.code).toBe(0);
  });

  test.each([
    ['uncaught', 'uncaught in the parent'],
    ['rejection', 'rejected in the parent'],
  ])(
    'after an uncaught exception (%s): refused with ERR_FORK_AT_EXIT, the parent still ends with 1',
    async (mode, message) => {
      const run = await runFixture('fork-at-exit.js', [mode]);
      expect(lines(run.stdout)).toEqual([
        'refused ERR_FORK_AT_EXIT',
        'later listener in parent code=1',
      ]);
      expect(run.stderr).toContain(`Error: ${message}`);
      expect(run.code).toBe(1);
    },
  );
});

test('the child has a working event loop: timers, fs, net, child_process, a grandchild; heap copied', async () => {
  const run = await runFixture('fork-loop.js');
  expect(run.code).toBe(0);
  const [child, parent] = json(run.stdout);
  expect(parent).toEqual({ parent: true, exitCode: 0, tag: 'from-parent', pid: run.pid });
  expect(child).toMatchObject({
    ppid: run.pid,
    parentPid: run.pid,
    heapSum: 49999 * 50000,
    tag: 'from-parent',
    timer: true,
    net: 'pong',
    childProcessExit: 7,
    grandchild: 21,
  });
  expect(child.pid).toBe(child.getpid);
  expect(child.pid).not.toBe(run.pid);
  expect(child.fsLength).toBeGreaterThan(100);
});

describe('work in flight in the parent at fork time', () => {
  test('a pending timer is carried over and fires in both processes', async () => {
    const run = await runFixture('fork-pending.js', ['timer']);
    const out = json(run.stdout);
    const fired = out.filter((o) => o.timerFired).map((o) => o.timerFired);
    const parent = out.find((o) => o.parent);
    expect(parent.status).toBe(0);
    expect(fired.sort()).toEqual([run.pid, parent.child].sort());
  });

  test('an inherited interval keeps the child alive until the child clears it', async () => {
    const run = await runFixture('fork-pending.js', ['interval']);
    expect(json(run.stdout)).toEqual([{ status: 0 }]);
  });

  test('an open server is carried over: the child can close its copy, the parent still serves', async () => {
    const run = await runFixture('fork-pending.js', ['server']);
    const out = json(run.stdout);
    const parent = out.find((o) => o.parent);
    expect(out.some((o) => o.childClosed)).toBe(true);
    expect(parent.status).toBe(0);
    expect(parent.reply).toBe(`served by ${run.pid}`);
  });

  test("a signal pending in the parent at fork time is the parent's; the child can still end", async () => {
    const run = await runFixture('fork-pending.js', ['signal']);
    expect(json(run.stdout)).toEqual([{ childEnded: true, status: 0, parentGot: 1 }]);
  });

  test("the parent's child_process children do not keep the fork child alive", async () => {
    const run = await runFixture('fork-pending.js', ['spawned'], { timeoutMs: 10000 });
    const out = json(run.stdout);
    const child = out.find((o) => 'status' in o);
    expect(child.status).toBe(0);
    expect(out).toContainEqual({ childTimer: child.child });
    // Only the parent, whose child it is, sees the spawned process end.
    expect(out.filter((o) => o.sleeperExit)).toEqual([{ sleeperExit: 'SIGTERM', in: run.pid }]);
  });

  test.each(['fs', 'crypto', 'zlib'])(
    'threadpool work (%s) refuses the fork with EBUSY naming it',
    async (kind) => {
      const run = await runFixture('fork-pending.js', [kind]);
      const out = json(run.stdout);
      const during = out.find((o) => o.during).during;
      expect(during).toMatchObject({ code: 'EBUSY', errno: -16, syscall: 'fork' });
      expect(during.message).toMatch(/^fork EBUSY \(requests in flight: /);
      const named = { fs: 'FSReqCallback', crypto: 'threadpool work', zlib: 'threadpool work' }[
        kind
      ]!;
      expect(during.message).toContain(named);
      if (kind !== 'zlib') expect(out.find((o) => 'afterCompletion' in o).afterCompletion).toBe(0);
    },
  );
});

test('fork() on a worker thread throws ERR_FORK_IN_WORKER', async () => {
  const run = await runFixture('fork-pending.js', ['worker']);
  expect(json(run.stdout)).toEqual([{ worker: 'ERR_FORK_IN_WORKER' }]);
});

describe('fork-safe mode', () => {
  test('outside it, fork() warns once per process with a code, four forks in one tick too; inside it, not at all', async () => {
    const unsafe = await runFixture('fork-mode.js', [], { forkSafe: false });
    const [report] = json(unsafe.stdout);
    expect(report.forkSafe).toBe(false);
    expect(report.warnings).toHaveLength(1);
    expect(report.warnings[0]).toMatchObject({ name: 'Warning', code: 'POSIX_FORK_UNSAFE' });
    // Printed once: not also by the children forked after it was queued, which inherit the queue.
    expect(unsafe.stderr.match(/POSIX_FORK_UNSAFE/g)).toHaveLength(1);
    const safe = await runFixture('fork-mode.js');
    expect(json(safe.stdout)[0]).toMatchObject({ forkSafe: true, warnings: [] });
  });

  test('ensureForkSafe() re-executes the script under --single-threaded, same pid and arguments', async () => {
    const run = await runFixture('fork-mode.js', ['ensure'], { forkSafe: false });
    expect(run.code).toBe(0);
    const [report] = json(run.stdout);
    expect(report).toMatchObject({ pid: run.pid, forkSafe: true, argv: ['ensure'], warnings: [] });
    for (const flag of FORK_SAFE_FLAGS) expect(report.execArgv).toContain(flag);
    // Everything before ensureForkSafe() runs twice: once before the exec, once after.
    expect(run.stderr.match(/before ensureForkSafe pid=(\d+)/g)).toEqual([
      `before ensureForkSafe pid=${run.pid}`,
      `before ensureForkSafe pid=${run.pid}`,
    ]);
  });

  test('the shebang form works', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'posix-fork-shebang-'));
    const script = path.join(dir, 'tool.js');
    fs.writeFileSync(
      script,
      `#!/usr/bin/env -S ${process.execPath} ${FORK_SAFE_ARGS}\n` +
        `const { fork, waitpid, isForkSafe } = require(${JSON.stringify(path.join(ROOT, 'dist', 'src'))});\n` +
        `const pid = fork(); if (pid === 0) process.exit(5);\n` +
        `console.log(isForkSafe(), waitpid(pid).exitCode);\n`,
      { mode: 0o755 },
    );
    const run = spawnSync(script, { encoding: 'utf8', timeout: 20000 * TIME_SCALE });
    fs.rmSync(dir, { recursive: true });
    expect(run.stdout.trim()).toBe('true 5');
    expect(run.stderr).toBe('');
  });
});

// /proc unmounted in a mount namespace of its own (root and util-linux's unshare): the mount
// is gone with the namespace when the fixture ends.
const UNMOUNT_PROC = [
  '--mount',
  '--propagation',
  'private',
  'sh',
  '-c',
  'umount -l /proc && exec "$0" "$@"',
];
const canUnmountProc =
  process.platform === 'linux' &&
  spawnSync('unshare', [...UNMOUNT_PROC, 'sh', '-c', 'test ! -e /proc/self'], { timeout: 10000 })
    .status === 0;

(canUnmountProc ? test : test.skip)(
  `without /proc, fork() says that it needs /proc${canUnmountProc ? '' : ' (skipped: needs root and unshare to unmount /proc)'}`,
  () => {
    const run = spawnSync(
      'unshare',
      [
        ...UNMOUNT_PROC,
        process.execPath,
        ...FORK_SAFE_FLAGS,
        path.join(FIXTURES, 'fork-no-proc.js'),
      ],
      { encoding: 'utf8', timeout: 20000 },
    );
    expect(run.status).toBe(0);
    const [report] = json(run.stdout);
    expect(report.procMounted).toBe(false);
    expect(report.error).toEqual({
      message: expect.stringMatching(
        /^fork ENOENT \(\/proc is not mounted: on Linux fork\(\) needs \/proc\/self/,
      ),
      code: 'ENOENT',
      errno: -2,
      syscall: 'fork',
    });
    expect(fs.existsSync('/proc/self')).toBe(true);
  },
);

test("the parent's V8 MADV_DONTFORK marks are restored after a burst of forks", async () => {
  const run = await runFixture('fork-memory.js');
  const [r] = json(run.stdout);
  expect(r.before).toBeGreaterThan(5);
  expect(r.duringBurst).toBeLessThan(r.before); // off from the first fork until forks pause
  expect(r.spawned).toBe(7);
  // V8 may map or unmap a page in between; the marks must not be gone.
  expect(r.after).toBeGreaterThanOrEqual(r.before - 2);
});

test("a fork child keeps no descriptor of the library's, and a closed one is never reused", async () => {
  const run = await runFixture('fork-descriptors.js');
  const [r] = json(run.stdout);
  expect(r.parentStatmFds).toBe(1);
  expect(r.childStatmFds).toBe(0);
  expect(r.sameNumber).toBe(true);
  expect([r.exit0, r.exit1, r.exit2]).toEqual([0, 0, 0]);
  expect(r.log).toEqual(['child 0', 'child 1', 'child 2', 'parent']);
  expect(run.code).toBe(0);
});

// The limits catch a hang, they do not time the run: on a slow-forking or busy machine the
// 200 children take minutes, and one child can take over 10 s when other tests run beside it.
test('stress: 200 children of a busy 300k-object parent, rotating exit paths, no hang, no crash', async () => {
  const run = await runNode(
    [
      path.join(ROOT, 'dist', 'scripts', 'stress-fork.js'),
      '--children',
      '200',
      '--hang-ms',
      '30000',
      '--json',
    ],
    {
      timeoutMs: 280000,
    },
  );
  const [result] = json(run.stdout);
  expect(result).toMatchObject({
    mode: `fork-safe (${FORK_SAFE_ARGS})`,
    children: 200,
    clean: 200,
    hangs: 0,
    crashes: 0,
  });
  expect(run.code).toBe(0);
}, 290000);
