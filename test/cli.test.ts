// The `posix-fork` command, driven as users run it (test/cli-helpers.ts), checked through its
// output, its exit status, and the process table in /proc. The demos: test/demos.test.ts.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { alive, cli, cmdline, killStrays, strays } from './cli-helpers';
import { FIXTURES, FORK_SAFE_FLAGS, procState, until } from './helpers';

const linux = process.platform === 'linux';
const onLinux = linux ? test : test.skip;

let tmp: string;

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'posix-fork-cli-'));
});

afterAll(() => {
  killStrays();
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

function readPid(file: string): number | null {
  try {
    const pid = Number(fs.readFileSync(file, 'utf8').split('\n')[0].trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

onLinux('daemon / status / stop: a round trip through the pidfile', async () => {
  const pidFile = path.join(tmp, 'sleeper.pid');
  const log = path.join(tmp, 'sleeper.log');
  const started = await cli([
    'daemon',
    '--pidfile',
    pidFile,
    '--stdout',
    log,
    '--',
    'sh',
    '-c',
    'echo "up $$"; exec sleep 60',
  ]);
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
  const started = await cli([
    'daemon',
    '--pidfile',
    pidFile,
    '--',
    'sh',
    '-c',
    'trap "" TERM; exec sleep 60',
  ]);
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
  test("exits with the command's exit code", async () => {
    const result = await cli(['reap', '--', 'sh', '-c', 'exit 7']);
    expect(result.code).toBe(7);
  });

  test('exits 128+N when signal N ended the command', async () => {
    const result = await cli(['reap', '--', 'sh', '-c', 'kill -USR2 $$']);
    expect(result.code).toBe(128 + os.constants.signals.SIGUSR2);
  });

  test('forwards SIGTERM to the command and returns its status', async () => {
    const marker = path.join(tmp, 'forward.pid');
    const running = cli([
      'reap',
      '--',
      'sh',
      '-c',
      `trap 'exit 42' TERM; echo $$ > ${marker}; while :; do sleep 0.05; done`,
    ]);
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
    await until(
      () => readPid(marker) !== null && cmdline(readPid(marker) as number) === 'sleep 30',
    );
    process.kill(ppidOf(readPid(marker) as number) as number, 'SIGINT');
    const result = await running;
    expect(result.code).toBe(128 + os.constants.signals.SIGINT);
  });

  onLinux("--subreaper adopts and reaps the command's orphans", async () => {
    const marker = path.join(tmp, 'orphan.pids');
    const running = cli([
      'reap',
      '--subreaper',
      '--verbose',
      '--',
      'sh',
      '-c',
      `sh -c 'sleep 0.5 & echo "$$ $!" > ${marker}.tmp; mv ${marker}.tmp ${marker}'; sleep 2`,
    ]);
    await until(() => fs.existsSync(marker));
    const orphan = Number(fs.readFileSync(marker, 'utf8').trim().split(' ')[1]);
    strays.set(orphan, 'sleep 0.5');
    // Its parent shell has exited: the reap process adopted it.
    await until(
      () => ppidOf(orphan) === null || cmdline(ppidOf(orphan) as number).includes(' reap '),
    );
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
    const running = cli([
      'reap',
      '--group',
      '--',
      'sh',
      '-c',
      `sleep 30 & echo "$$ $!" > ${marker}.tmp; mv ${marker}.tmp ${marker}; wait`,
    ]);
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
      pid: number;
      forkSafe: boolean;
      execArgv: string[];
      args: string[];
      childExitCode: number;
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
