// `posix-fork demo <name>`: each demo runs its program from examples/ with the process table
// around it. Checked through its output (the tables it printed), its exit status, and /proc:
// none of the processes it showed may still run afterwards.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { CLI, PLAIN_ENV, alive, cli, killStrays, strays } from './cli-helpers';
import { FIXTURES, RunResult, runNode, until } from './helpers';

const linux = process.platform === 'linux';
const onLinux = linux ? test : test.skip;

afterAll(() => {
  killStrays();
});

/** The PID column of every process-table row a demo printed. */
function tablePids(stdout: string): number[] {
  const pids = new Set<number>();
  for (const line of stdout.split('\n')) {
    const match = /^\s{4}([RSDZTtIWXKPLNs<l+]+)\s+(\d+)\s+(\d+)\s{2}/.exec(line);
    if (match) pids.add(Number(match[3]));
  }
  return [...pids];
}

interface Row {
  stat: string;
  ppid: number;
  rest: string;
}

/** Every table row of `pid`, in the order the demo printed them. */
function rowsOf(stdout: string, pid: number): Row[] {
  const rows: Row[] = [];
  for (const line of stdout.split('\n')) {
    const match = /^\s{4}(\S+)\s+(\d+)\s+(\d+)\s{2}(.*)$/.exec(line);
    if (match && Number(match[3]) === pid)
      rows.push({ stat: match[1], ppid: Number(match[2]), rest: match[4] });
  }
  return rows;
}

/** The first table row of `pid`. */
function rowOf(stdout: string, pid: number): Row | null {
  return rowsOf(stdout, pid)[0] ?? null;
}

/** The last table row of `pid`. */
function lastRowOf(stdout: string, pid: number): Row | null {
  return rowsOf(stdout, pid).at(-1) ?? null;
}

describe('posix-fork demo', () => {
  test('without a name lists every demo', async () => {
    const result = await cli(['demo']);
    expect(result.code).toBe(0);
    for (const name of [
      'fork',
      'zombie',
      'orphan',
      'reap-signal',
      'reap-poll',
      'daemon',
      'process',
    ]) {
      expect(result.stdout).toMatch(new RegExp(`^\\s+${name}\\s+\\S`, 'm'));
    }
  });

  test('an unknown demo is one line on stderr and status 2', async () => {
    const result = await cli(['demo', 'nope']);
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/^posix-fork demo: unknown demo 'nope'/);
  });

  // Every demo: exit 0, plain text in a pipe, and none of the processes it showed still runs.
  async function runDemo(name: string): Promise<RunResult & { pids: number[] }> {
    const result = await cli(['demo', name], { timeoutMs: 30000 });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).not.toMatch(/\x1b\[/);
    expect(result.stdout).toMatch(/^\s+STAT\s+PPID\s+PID\s+CMD$/m);
    const pids = tablePids(result.stdout).filter((pid) => pid !== result.pid);
    expect(pids.length).toBeGreaterThan(0);
    for (const pid of pids) strays.set(pid, 'posix-fork demo');
    // Orphans and daemons are reaped by their adopter; they must at least have ended.
    await until(() => pids.every((pid) => !alive(pid)), 5000).catch(() => undefined);
    expect(pids.filter(alive)).toEqual([]);
    return { ...result, pids };
  }

  /** The example's process: the demo's child, the parent in every table it shows. */
  function exampleOf(result: RunResult & { pids: number[] }): number {
    return result.pids.find((pid) => rowOf(result.stdout, pid)?.ppid === result.pid) as number;
  }

  test("fork: both pids, the child is the parent's child, the copied variable", async () => {
    const result = await runDemo('fork');
    expect(result.stdout).toMatch(/source = 9 in the child/);
    expect(result.stdout).toMatch(/source = 10 in the parent/);
    const parent = exampleOf(result);
    const child = result.pids.find((pid) => pid !== parent) as number;
    expect(rowOf(result.stdout, child)?.ppid).toBe(parent);
    expect(result.stdout).toContain(`I am child process (${child}) and my parent is ${parent}.`);
    expect(result.stdout).toMatch(/exit code 0; the child is reaped/);
  });

  test('zombie: a Z <defunct> row under its parent, then reaped and gone', async () => {
    const result = await runDemo('zombie');
    const parent = exampleOf(result);
    const child = result.pids.find((pid) => pid !== parent) as number;
    const row = rowOf(result.stdout, child);
    expect(row?.stat).toMatch(/^Z/);
    expect(row?.ppid).toBe(parent);
    expect(row?.rest).toMatch(/<defunct>/);
    expect(result.stdout).toContain(`reaped child process ${child}, status 768 (exit code 3)`);
    expect(result.stdout).toContain(`(pid ${child} is no longer in the process table)`);
  });

  /** The orphan's story: its parent, the new parent it names, the row the demo showed last. */
  function orphanStory(stdout: string) {
    const parent = Number(/I am the parent: pid (\d+)/.exec(stdout)?.[1]);
    const orphan = Number(/child (\d+): I am the child, my parent is (\d+)/.exec(stdout)?.[1]);
    const named = Number(/I am the child, my parent is (\d+)/.exec(stdout)?.[1]);
    const adopter = Number(/my parent is now (\d+)/.exec(stdout)?.[1]);
    return { parent, orphan, named, adopter, lastRow: lastRowOf(stdout, orphan) };
  }

  test('orphan: the child shows its new parent, not the one that exited', async () => {
    const result = await runDemo('orphan');
    const { parent, orphan, named, adopter, lastRow } = orphanStory(result.stdout);
    expect(rowOf(result.stdout, orphan)?.ppid).toBe(parent);
    expect(named).toBe(parent);
    expect(lastRow?.ppid).toBe(adopter);
    expect(adopter).not.toBe(parent);
    expect(adopter).not.toBe(result.pid);
    expect(result.stdout).toContain(`(pid ${parent} is no longer in the process table)`);
  });

  test('orphan: a child that first looks after its parent has gone still names that parent', async () => {
    const hook = path.join(FIXTURES, 'late-getppid.js');
    const result = await runNode(['-r', hook, CLI, 'demo', 'orphan'], {
      forkSafe: false,
      timeoutMs: 30000,
      env: PLAIN_ENV,
    });
    expect(result.code).toBe(0);
    const { parent, named, adopter } = orphanStory(result.stdout);
    expect(named).toBe(parent);
    expect(adopter).not.toBe(parent);
    const pids = tablePids(result.stdout).filter((pid) => pid !== result.pid);
    for (const pid of pids) strays.set(pid, 'posix-fork demo');
    await until(() => pids.every((pid) => !alive(pid)), 5000).catch(() => undefined);
    expect(pids.filter(alive)).toEqual([]);
  });

  test('reap-signal: the SIGCHLD loop reaps the child with its status; then ECHILD', async () => {
    const result = await runDemo('reap-signal');
    const child = Number(/the child pid is (\d+)/.exec(result.stdout)?.[1]);
    expect(rowOf(result.stdout, child)?.stat).toMatch(/^[SR]/);
    expect(result.stdout).toContain(`reaped child process ${child}, status 768 (exit code 3)`);
    expect(result.stdout).not.toMatch(/^\s{4}Z/m);
    expect(result.stdout).toMatch(/waitpid\(-1, WNOHANG\) -> ECHILD/);
  });

  test('reap-poll: "one loop..." until the poll reaps the child', async () => {
    const result = await runDemo('reap-poll');
    const child = Number(/the child pid is (\d+)/.exec(result.stdout)?.[1]);
    expect((result.stdout.match(/one loop\.\.\./g) ?? []).length).toBeGreaterThanOrEqual(2);
    expect(result.stdout).toContain(`reaped child process ${child}, status 768 (exit code 3)`);
    expect(result.stdout).toContain(`(pid ${child} is no longer in the process table)`);
  });

  onLinux(
    'daemon: the double fork leaves a session-less, terminal-less daemon, then stops it',
    async () => {
      const result = await runDemo('daemon');
      const pidFile = /from (\S+\.pid):/.exec(result.stdout)?.[1] as string;
      const [daemon] = result.pids;
      const row = rowOf(result.stdout, daemon);
      expect(row?.stat).not.toContain('s'); // not a session leader
      expect(row?.ppid).not.toBe(result.pid);
      expect(result.stdout).toMatch(/terminal: none · cwd: \/ · umask: 0000/);
      expect(result.stdout).toMatch(/ended on SIGTERM; its exit handler removed the pidfile/);
      expect(fs.existsSync(pidFile)).toBe(false);
    },
  );

  test('process: tasks joined, the daemonic child ends with its parent, _cleanup reaps', async () => {
    const result = await runDemo('process');
    for (const task of ['task_0', 'task_1', 'task_2']) {
      expect(result.stdout).toContain(`${task} is starting ....`);
      expect(result.stdout).toContain(`${task} is ending ....`);
    }
    expect(result.stdout).toContain(
      'joined: task_0 exit code 0, task_1 exit code 0, task_2 exit code 0',
    );
    expect(result.stdout).not.toContain('steward max: finished');
    expect(result.stdout).toMatch(/^\s{4}Z\S*\s+\d+\s+\d+\s{2}\[.*\] <defunct>/m);
    expect(result.stdout).toContain('nothing left behind');
  });

  const withScript =
    linux &&
    (() => {
      try {
        execFileSync('script', ['--version'], { stdio: 'ignore' });
        return true;
      } catch {
        return false;
      }
    })();

  (withScript ? test : test.skip)(
    'on a terminal (script -qec) the demo is coloured; NO_COLOR turns it off',
    async () => {
      const underScript = (env: NodeJS.ProcessEnv) =>
        runNode(
          [
            '-e',
            `
      const { execFileSync } = require('child_process');
      process.stdout.write(execFileSync('script', ['-qec', ${JSON.stringify(`${process.execPath} ${CLI} demo zombie`)}, '/dev/null'],
        { encoding: 'utf8' }));`,
          ],
          { forkSafe: false, env: { ...PLAIN_ENV, ...env }, timeoutMs: 30000 },
        );
      const coloured = await underScript({});
      expect(coloured.code).toBe(0);
      expect(coloured.stdout).toMatch(/\x1b\[31m\s+Z\+?\s+\d+\s+\d+/); // the zombie row in red
      expect(coloured.stdout).toContain('<defunct>');
      const plain = await underScript({ NO_COLOR: '1' });
      expect(plain.code).toBe(0);
      expect(plain.stdout).toContain('<defunct>');
      expect(plain.stdout).not.toMatch(/\x1b\[/);
    },
  );
});
