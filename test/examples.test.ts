// Every program in examples/, run as a user runs it (`node dist/examples/<name>.js`, without
// --single-threaded: each example puts itself in the fork-safe mode): it ends on its own with
// exit 0, and leaves no process behind. Each runs in its own process group, so "nothing
// left" is "that group is empty"; the daemon leaves the group (setsid) and is checked by pid.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ROOT, RunResult, procState, runNode, until } from './helpers';
import { killStarted, startNode, talk } from './server-helpers';

const EXAMPLES = path.join(ROOT, 'dist', 'examples');
let tmp: string;
let runs = 0;
/** Daemons started here, killed at the end if a test failed before they ended. */
const daemons = new Set<number>();

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'posix-fork-examples-'));
});

afterAll(() => {
  for (const pid of daemons) {
    if (
      procState(pid) !== null &&
      fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('daemon.js')
    ) {
      process.kill(pid, 'SIGKILL');
    }
  }
  killStarted();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** No process is left in process group `pgid` (an orphan counts until its adopter reaps it). */
function groupEmpty(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return false;
  } catch {
    return true;
  }
}

/** Waits until every process of the group has ended; false if some still runs after 30 s. */
async function allEnded(pgid: number): Promise<boolean> {
  await until(() => groupEmpty(pgid), 30000).catch(() => undefined);
  return groupEmpty(pgid);
}

/**
 * Runs the example and waits for every process it started. Its stdout goes to a file, read
 * at the end: processes that outlive the example (an orphan) write there too.
 */
async function runExample(name: string, args: string[] = []): Promise<RunResult> {
  const output = path.join(tmp, `${name}-${++runs}.out`);
  const fd = fs.openSync(output, 'w');
  let result: RunResult;
  try {
    result = await runNode([path.join(EXAMPLES, `${name}.js`), ...args], {
      forkSafe: false,
      timeoutMs: 60000,
      stdio: ['ignore', fd, 'pipe'],
    });
  } finally {
    fs.closeSync(fd);
  }
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  expect(await allEnded(result.pid)).toBe(true);
  return { ...result, stdout: fs.readFileSync(output, 'utf8') };
}

test('fork: the child changes its copy of a variable, the parent keeps its own', async () => {
  const { stdout } = await runExample('fork');
  expect(stdout).toMatch(/source = 9 in the child/);
  expect(stdout).toMatch(/source = 10 in the parent/);
  expect(stdout).toMatch(/exit code 0; the child is reaped/);
});

test('zombie: ps shows the child as Z <defunct> until waitpid() reaps it', async () => {
  const { stdout } = await runExample('zombie', ['--quick']);
  const child = Number(/created a child process \((\d+)\)/.exec(stdout)?.[1]);
  expect(stdout).toMatch(new RegExp(`^\\s+Z\\s+\\d+\\s+${child}\\s+\\[.*\\] <defunct>$`, 'm'));
  expect(stdout).toContain(`reaped child process ${child}, status 768 (exit code 3)`);
  expect(stdout).toContain(`(pid ${child} is no longer in the process table)`);
});

test('orphan: the parent exits first, the child names its new parent, then ends', async () => {
  const { stdout } = await runExample('orphan');
  const parent = Number(/I am the parent: pid (\d+)/.exec(stdout)?.[1]);
  expect(stdout).toContain('exiting without waiting for my child');
  const adopter = Number(/my parent is now (\d+)/.exec(stdout)?.[1]);
  expect(adopter).toBeGreaterThan(0);
  expect(adopter).not.toBe(parent);
  // The parent has exited: gone, or a zombie until whoever started it (here jest) reaps it.
  expect(stdout).toMatch(
    new RegExp(
      `\\(pid ${parent} is no longer in the process table\\)|^\\s+Zs?\\s+\\d+\\s+${parent}\\s`,
      'm',
    ),
  );
});

test('reap: on SIGCHLD, the child never lingers as a zombie; then ECHILD', async () => {
  const { stdout } = await runExample('reap', ['--quick']);
  const child = Number(/the child pid is (\d+)/.exec(stdout)?.[1]);
  expect(stdout).toContain(`reaped child process ${child}, status 768 (exit code 3)`);
  expect(stdout).not.toMatch(/^\s+Z\s/m);
  expect(stdout).toMatch(/ECHILD/);
});

test('reap --poll: "one loop..." until a poll reaps the child', async () => {
  const { stdout } = await runExample('reap', ['--poll', '--quick']);
  const child = Number(/the child pid is (\d+)/.exec(stdout)?.[1]);
  expect((stdout.match(/one loop\.\.\./g) ?? []).length).toBeGreaterThanOrEqual(2);
  expect(stdout).toContain(`reaped child process ${child}, status 768 (exit code 3)`);
});

describe('process', () => {
  test('all programs: memory, join order, tasks, cleanup, daemonic child', async () => {
    const { stdout } = await runExample('process', ['--quick']);
    expect(stdout).toContain('num in the parent is 100; the children returned 101, 101, 101');
    expect(stdout).toContain('joined: task_0 exit code 0, task_1 exit code 0, task_2 exit code 0');
    expect(stdout).toMatch(/^\s+Z\s+\d+\s+\d+\s+\[.*\] <defunct>$/m);
    expect(stdout).not.toContain('steward max: finished');
  });

  test('tasks: the parent ends only after its non-daemonic children', async () => {
    const { stdout } = await runExample('process', ['tasks', '--quick']);
    expect(stdout.indexOf('main process ending')).toBeLessThan(
      stdout.lastIndexOf('is ending ....'),
    );
    expect(stdout.match(/task_\d is ending \.\.\.\./g)).toHaveLength(3);
  });

  test('no-daemon: the child finishes after its parent', async () => {
    const { stdout } = await runExample('process', ['no-daemon', '--quick']);
    expect(stdout).toContain('steward max: finished');
  });
});

test('process-subclass: results and the thrown error come back', async () => {
  const result = await runNode([path.join(EXAMPLES, 'process-subclass.js')], {
    forkSafe: false,
    timeoutMs: 60000,
  });
  expect(result.code).toBe(0);
  // The failing worker reports its error on stderr, as Python's multiprocessing does.
  expect(result.stderr).toContain('RangeError: 4 is one too many');
  expect(result.stdout).toMatch(/Worker-3: exit code 0, result "3: done by \d+"/);
  expect(result.stdout).toContain(
    'Worker-4: exit code 1, result undefined, error RangeError: 4 is one too many',
  );
  expect(await allEnded(result.pid)).toBe(true);
});

test("pool: the same results as a serial map, and the worker's error with its index", async () => {
  const { stdout } = await runExample('pool', ['--quick']);
  expect(stdout).toContain('same results: true');
  expect(stdout).toContain('RangeError: query 3 is not allowed (index 3)');
});

describe('daemon', () => {
  async function launch(
    args: string[],
  ): Promise<{ daemon: number; pidFile: string; launcher: number }> {
    const pidFile = path.join(tmp, `daemon-${args.join('')}.pid`);
    const result = await runExample('daemon', ['--pid-file', pidFile, ...args]);
    await until(
      () => fs.existsSync(pidFile) && fs.readFileSync(pidFile, 'utf8').trim() !== '',
      10000,
    );
    const daemon = Number(fs.readFileSync(pidFile, 'utf8').split('\n')[0]);
    daemons.add(daemon);
    expect(procState(daemon)).not.toBeNull();
    return { daemon, pidFile, launcher: result.pid };
  }

  const gone = (pid: number) => procState(pid) === null || procState(pid) === 'Z';

  test('the classic recipe: a daemon that ends by itself after --seconds and removes its pidfile', async () => {
    const { daemon, pidFile } = await launch(['--seconds', '1']);
    await until(() => gone(daemon) && !fs.existsSync(pidFile), 20000);
    expect(gone(daemon)).toBe(true);
    expect(fs.existsSync(pidFile)).toBe(false);
  });

  test('--library: daemonize() starts it; kill -TERM $(cat FILE) stops it and removes the pidfile', async () => {
    const { daemon, pidFile } = await launch(['--library', '--seconds', '60']);
    process.kill(daemon, 'SIGTERM');
    await until(() => gone(daemon) && !fs.existsSync(pidFile), 20000);
    expect(gone(daemon)).toBe(true);
    expect(fs.existsSync(pidFile)).toBe(false);
  });
});

test('echo-server: serves a client from a child, reaps it, and stops on SIGTERM', async () => {
  const server = startNode([path.join(EXAMPLES, 'echo-server.js'), '0']);
  const port = Number((await server.waitFor(/listening on 127\.0\.0\.1:(\d+)/))[1]);
  const reply = await talk(port, ['hello', 'q']);
  expect(reply.slice(1)).toEqual(['hello', 'bye']);
  await server.waitFor(/^reaped \d+ \(exit code 0\)$/m);
  server.child.kill('SIGTERM');
  expect(await server.exited).toEqual({ code: 0, signal: null });
  expect(await allEnded(server.pid)).toBe(true);
});
