// The `posix-fork` command, driven as users run it: `node dist/src/cli/index.js ...` in its own
// process (not in the fork-safe mode: the command must get there itself), checked through its
// output, its exit status, and the process table in /proc.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { FIXTURES, FORK_SAFE_FLAGS, ROOT, RunOptions, RunResult, procState, runNode, until } from './helpers';

const CLI = path.join(ROOT, 'dist', 'src', 'cli', 'index.js');
const linux = process.platform === 'linux';
const onLinux = linux ? test : test.skip;

/** Plain output: no colour forced or forbidden by the environment jest runs in. */
const PLAIN_ENV = { FORCE_COLOR: undefined, NO_COLOR: undefined } as unknown as NodeJS.ProcessEnv;

function cli(args: string[], options: RunOptions = {}): Promise<RunResult> {
  return runNode([CLI, ...args], { forkSafe: false, ...options, env: { ...PLAIN_ENV, ...options.env } });
}

/**
 * Processes this file started outside its process groups (daemons, orphans), with a piece of
 * their command line: killed in afterAll if still there and still that program (a pid may
 * have been reused meanwhile).
 */
const strays = new Map<number, string>();
let tmp: string;

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'posix-fork-cli-'));
});

afterAll(() => {
  for (const [pid, program] of strays) {
    if (!alive(pid) || !cmdline(pid).includes(program)) continue;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  fs.rmSync(tmp, { recursive: true, force: true });
});

function statFields(pid: number): string[] | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

function ppidOf(pid: number): number | null {
  const fields = statFields(pid);
  return fields ? Number(fields[1]) : null;
}

function cmdline(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
  } catch {
    return '';
  }
}

/** Still running: in the table and not a zombie (a zombie of init is dead, only not yet reaped). */
function alive(pid: number): boolean {
  const state = procState(pid);
  return state !== null && state !== 'Z' && state !== 'X';
}

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
    if (match && Number(match[3]) === pid) rows.push({ stat: match[1], ppid: Number(match[2]), rest: match[4] });
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

function readPid(file: string): number | null {
  try {
    const pid = Number(fs.readFileSync(file, 'utf8').split('\n')[0].trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

describe('posix-fork demo', () => {
  test('without a name lists every demo', async () => {
    const result = await cli(['demo']);
    expect(result.code).toBe(0);
    for (const name of ['fork', 'zombie', 'orphan', 'reap-signal', 'reap-poll', 'daemon', 'process']) {
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

  test('fork: both pids, the child is the parent\'s child, the copied variable', async () => {
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
      forkSafe: false, timeoutMs: 30000, env: PLAIN_ENV,
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

  onLinux('daemon: the double fork leaves a session-less, terminal-less daemon, then stops it', async () => {
    const result = await runDemo('daemon');
    const pidFile = /from (\S+\.pid):/.exec(result.stdout)?.[1] as string;
    const [daemon] = result.pids;
    const row = rowOf(result.stdout, daemon);
    expect(row?.stat).not.toContain('s'); // not a session leader
    expect(row?.ppid).not.toBe(result.pid);
    expect(result.stdout).toMatch(/terminal: none · cwd: \/ · umask: 0000/);
    expect(result.stdout).toMatch(/ended on SIGTERM; its exit handler removed the pidfile/);
    expect(fs.existsSync(pidFile)).toBe(false);
  });

  test('process: tasks joined, the daemonic child ends with its parent, _cleanup reaps', async () => {
    const result = await runDemo('process');
    for (const task of ['task_0', 'task_1', 'task_2']) {
      expect(result.stdout).toContain(`${task} is starting ....`);
      expect(result.stdout).toContain(`${task} is ending ....`);
    }
    expect(result.stdout).toContain('joined: task_0 exit code 0, task_1 exit code 0, task_2 exit code 0');
    expect(result.stdout).toContain('steward max: alive');
    expect(result.stdout).not.toContain('steward max: finished');
    expect(result.stdout).toMatch(/^\s{4}Z\S*\s+\d+\s+\d+\s{2}\[.*\] <defunct>/m);
    expect(result.stdout).toContain('nothing left behind');
  });

  const withScript = linux && (() => {
    try {
      execFileSync('script', ['--version'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  })();

  (withScript ? test : test.skip)('on a terminal (script -qec) the demo is coloured; NO_COLOR turns it off', async () => {
    const underScript = (env: NodeJS.ProcessEnv) => runNode(['-e', `
      const { execFileSync } = require('child_process');
      process.stdout.write(execFileSync('script', ['-qec', ${JSON.stringify(`${process.execPath} ${CLI} demo zombie`)}, '/dev/null'],
        { encoding: 'utf8' }));`], { forkSafe: false, env: { ...PLAIN_ENV, ...env }, timeoutMs: 30000 });
    const coloured = await underScript({});
    expect(coloured.code).toBe(0);
    expect(coloured.stdout).toMatch(/\x1b\[31m\s+Z\+?\s+\d+\s+\d+/); // the zombie row in red
    expect(coloured.stdout).toContain('<defunct>');
    const plain = await underScript({ NO_COLOR: '1' });
    expect(plain.code).toBe(0);
    expect(plain.stdout).toContain('<defunct>');
    expect(plain.stdout).not.toMatch(/\x1b\[/);
  });
});

onLinux('daemon / status / stop: a round trip through the pidfile', async () => {
  const pidFile = path.join(tmp, 'sleeper.pid');
  const log = path.join(tmp, 'sleeper.log');
  const started = await cli(['daemon', '--pidfile', pidFile, '--stdout', log, '--',
    'sh', '-c', 'echo "up $$"; exec sleep 60']);
  expect(started.stderr).toBe('');
  expect(started.code).toBe(0);
  const pid = readPid(pidFile) as number;
  expect(pid).toBeGreaterThan(0);
  strays.set(pid, 'sleep 60');
  await until(() => cmdline(pid) === 'sleep 60');
  // A daemon: adopted, in a session it does not lead, without a terminal, in /, umask 022.
  const fields = statFields(pid) as string[];
  expect(Number(fields[1])).not.toBe(started.pid);
  expect(Number(fields[3])).not.toBe(pid); // session id: not a session leader
  expect(Number(fields[3])).not.toBe(Number(statFields(process.pid)?.[3])); // not our session
  expect(fields[4]).toBe('0'); // no controlling terminal
  expect(fs.readlinkSync(`/proc/${pid}/cwd`)).toBe('/');
  expect(fs.readFileSync(`/proc/${pid}/status`, 'utf8')).toMatch(/^Umask:\s+0022$/m);
  expect(fs.readFileSync(log, 'utf8')).toBe(`up ${pid}\n`);

  const running = await cli(['status', '--pidfile', pidFile]);
  expect(running.code).toBe(0);
  expect(running.stdout).toBe(`running (pid ${pid})\n`);

  const twice = await cli(['daemon', '--pidfile', pidFile, '--', 'sleep', '60']);
  expect(twice.code).toBe(1);
  expect(twice.stderr).toMatch(/^posix-fork daemon: already running \(pid \d+\)/);
  expect(twice.stderr.trim().split('\n')).toHaveLength(1);
  expect(readPid(pidFile)).toBe(pid);

  const stopped = await cli(['stop', '--pidfile', pidFile]);
  expect(stopped.code).toBe(0);
  expect(stopped.stdout).toContain(`stopped (pid ${pid})`);
  expect(alive(pid)).toBe(false);
  expect(fs.existsSync(pidFile)).toBe(false);

  const absent = await cli(['status', '--pidfile', pidFile]);
  expect(absent.code).toBe(3);
  expect(absent.stdout).toMatch(/^not running/);

  const again = await cli(['stop', '--pidfile', pidFile]);
  expect(again.code).toBe(0);
});

onLinux('status says stale (1) for a daemon that died; stop removes its pidfile', async () => {
  const pidFile = path.join(tmp, 'stale.pid');
  const started = await cli(['daemon', '--pidfile', pidFile, '--wait-ready', '--', 'sleep', '60']);
  expect(started.code).toBe(0);
  const pid = readPid(pidFile) as number;
  strays.set(pid, 'sleep 60');
  await until(() => cmdline(pid) === 'sleep 60');
  process.kill(pid, 'SIGKILL');
  await until(() => !alive(pid));
  const stale = await cli(['status', '--pidfile', pidFile]);
  expect(stale.code).toBe(1);
  expect(stale.stdout).toMatch(/stale pid/);
  const stopped = await cli(['stop', '--pidfile', pidFile]);
  expect(stopped.code).toBe(0);
  expect(stopped.stdout).toMatch(/removed the stale pidfile/);
  expect(fs.existsSync(pidFile)).toBe(false);
});

onLinux('stop sends SIGKILL after --timeout to a daemon that ignores SIGTERM', async () => {
  const pidFile = path.join(tmp, 'stubborn.pid');
  const started = await cli(['daemon', '--pidfile', pidFile, '--',
    'sh', '-c', 'trap "" TERM; exec sleep 60']);
  expect(started.code).toBe(0);
  const pid = readPid(pidFile) as number;
  strays.set(pid, 'sleep 60');
  await until(() => cmdline(pid) === 'sleep 60');
  const stopped = await cli(['stop', '--pidfile', pidFile, '--timeout', '0.3']);
  expect(stopped.code).toBe(0);
  expect(stopped.stdout).toMatch(/still running after 0.3 s: sent SIGKILL/);
  expect(alive(pid)).toBe(false);
  expect(fs.existsSync(pidFile)).toBe(false);
});

test('daemon with a command that does not exist: 127, one line, no pidfile', async () => {
  const pidFile = path.join(tmp, 'missing.pid');
  const result = await cli(['daemon', '--pidfile', pidFile, '--', 'no-such-command-here']);
  expect(result.code).toBe(127);
  expect(result.stderr).toBe('posix-fork daemon: no-such-command-here: command not found\n');
  expect(fs.existsSync(pidFile)).toBe(false);
});

describe('posix-fork reap', () => {
  test('exits with the command\'s exit code', async () => {
    const result = await cli(['reap', '--', 'sh', '-c', 'exit 7']);
    expect(result.code).toBe(7);
  });

  test('exits 128+N when signal N ended the command', async () => {
    const result = await cli(['reap', '--', 'sh', '-c', 'kill -USR2 $$']);
    expect(result.code).toBe(128 + os.constants.signals.SIGUSR2);
  });

  test('forwards SIGTERM to the command and returns its status', async () => {
    const marker = path.join(tmp, 'forward.pid');
    const running = cli(['reap', '--', 'sh', '-c',
      `trap 'exit 42' TERM; echo $$ > ${marker}; while :; do sleep 0.05; done`]);
    await until(() => readPid(marker) !== null);
    const command = readPid(marker) as number;
    const reaper = ppidOf(command) as number;
    expect(cmdline(reaper)).toContain(' reap ');
    process.kill(reaper, 'SIGTERM');
    const result = await running;
    expect(result.code).toBe(42);
    expect(result.pid).toBe(reaper); // re-executed in the fork-safe mode, same pid
  });

  test('a command killed by a forwarded signal gives 128+N', async () => {
    const marker = path.join(tmp, 'killed.pid');
    const running = cli(['reap', '--', 'sh', '-c', `echo $$ > ${marker}; exec sleep 30`]);
    await until(() => readPid(marker) !== null && cmdline(readPid(marker) as number) === 'sleep 30');
    process.kill(ppidOf(readPid(marker) as number) as number, 'SIGINT');
    const result = await running;
    expect(result.code).toBe(128 + os.constants.signals.SIGINT);
  });

  onLinux('--subreaper adopts and reaps the command\'s orphans', async () => {
    const marker = path.join(tmp, 'orphan.pids');
    const running = cli(['reap', '--subreaper', '--verbose', '--', 'sh', '-c',
      `sh -c 'sleep 0.5 & echo "$$ $!" > ${marker}.tmp; mv ${marker}.tmp ${marker}'; sleep 2`]);
    await until(() => fs.existsSync(marker));
    const orphan = Number(fs.readFileSync(marker, 'utf8').trim().split(' ')[1]);
    strays.set(orphan, 'sleep 0.5');
    // Its parent shell has exited: the reap process adopted it.
    await until(() => ppidOf(orphan) === null || cmdline(ppidOf(orphan) as number).includes(' reap '));
    const adopter = ppidOf(orphan);
    // Ended and reaped (gone from the table) while the command still runs.
    await until(() => procState(orphan) === null, 5000);
    const result = await running;
    expect(result.code).toBe(0);
    if (adopter !== null) expect(adopter).toBe(result.pid);
    expect(result.stderr).toContain(`reaped orphan ${orphan} (exit code 0)`);
  });

  onLinux('--group forwards the signal to the whole process group', async () => {
    const marker = path.join(tmp, 'group.pids');
    const running = cli(['reap', '--group', '--', 'sh', '-c',
      `sleep 30 & echo "$$ $!" > ${marker}.tmp; mv ${marker}.tmp ${marker}; wait`]);
    await until(() => fs.existsSync(marker));
    const [shell, background] = fs.readFileSync(marker, 'utf8').trim().split(' ').map(Number);
    strays.set(background, 'sleep 30');
    process.kill(ppidOf(shell) as number, 'SIGTERM');
    const result = await running;
    expect(result.code).toBe(128 + os.constants.signals.SIGTERM);
    await until(() => !alive(background));
  });

  test('a command that does not exist: 127 and one line', async () => {
    const result = await cli(['reap', '--', 'no-such-command-here']);
    expect(result.code).toBe(127);
    expect(result.stderr).toBe('posix-fork reap: no-such-command-here: command not found\n');
  });
});

describe('posix-fork run', () => {
  test('runs the script in the fork-safe mode, in the same process, with its arguments', async () => {
    const result = await cli(['run', path.join(FIXTURES, 'cli-run.js'), 'a', '--flag', 'b']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(9);
    const report = JSON.parse(result.stdout) as {
      pid: number; forkSafe: boolean; execArgv: string[]; args: string[]; childExitCode: number;
    };
    expect(report.pid).toBe(result.pid);
    expect(report.forkSafe).toBe(true);
    expect(report.execArgv).toEqual([...FORK_SAFE_FLAGS]);
    expect(report.args).toEqual(['a', '--flag', 'b']);
    expect(report.childExitCode).toBe(5);
  });

  test('a missing script is one line and status 2', async () => {
    const result = await cli(['run', path.join(tmp, 'nope.js')]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^posix-fork run: cannot find script '.*nope\.js'\n$/);
  });
});

describe('help and usage errors', () => {
  test.each(['demo', 'daemon', 'status', 'stop', 'reap', 'run'])('%s --help', async (name) => {
    const result = await cli([name, '--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^Usage: posix-fork ${name} `));
  });

  test('--help lists the subcommands and the first command to try', async () => {
    const result = await cli(['--help']);
    expect(result.code).toBe(0);
    for (const name of ['demo', 'daemon', 'status', 'stop', 'reap', 'run']) {
      expect(result.stdout).toMatch(new RegExp(`^  ${name} `, 'm'));
    }
    expect(result.stdout).toContain('npx posix-fork demo zombie');
  });

  test.each([
    [['bogus'], /^posix-fork: unknown command 'bogus'/],
    [['daemon'], /^posix-fork daemon: missing required argument 'command'/],
    [['status'], /^posix-fork status: required option '--pidfile <file>' not specified/],
    [['stop', '--pidfile', 'x', '--timeout', 'soon'], /^posix-fork stop: invalid --timeout 'soon'/],
    [['daemon', '--umask', '999', '--', 'true'], /^posix-fork daemon: invalid --umask '999'/],
    [['reap', '--nope', '--', 'true'], /^posix-fork reap: unknown option '--nope'/],
  ])('%j is one line on stderr with status 2', async (args, message) => {
    const result = await cli(args as string[]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message as RegExp);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  });
});
