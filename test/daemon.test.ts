// daemonize(): real daemons, checked through /proc. Every daemon a fixture starts appends its
// pid to a registry file in the test's temporary directory; afterEach kills every pid listed
// there (after checking its command line names that directory) and asserts none remain.
import { ChildProcess, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { FIXTURES, FORK_SAFE_FLAGS, ROOT, RunResult, runFixture, runNode, until } from './helpers';
// The compiled module (src/native.ts finds the addon relative to dist/src); reading a pidfile
// takes no fork, so it runs in the jest process.

const { inspectPidFile } = require('../dist/src/pidfile') as typeof import('../src/pidfile');

const linux = process.platform === 'linux';
const describeLinux = linux ? describe : describe.skip;
// A pseudo-terminal and a unix datagram receiver come from python3's standard library.
const hasPython =
  spawnSync('python3', ['-c', 'import pty, socket'], { stdio: 'ignore' }).status === 0;
const describeLinuxPython = linux && hasPython ? describe : describe.skip;

let ROOT_TMP = '';
let tmp = '';
let caseNumber = 0;
const helpers: ChildProcess[] = [];

beforeAll(() => {
  ROOT_TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'pf-daemon-test-'));
});

beforeEach(() => {
  tmp = path.join(ROOT_TMP, `case-${++caseNumber}`);
  fs.mkdirSync(tmp);
});

afterEach(async () => {
  for (const helper of helpers.splice(0)) {
    if (helper.exitCode === null && helper.signalCode === null) helper.kill('SIGKILL');
  }
  const left = await killDaemonsUnder(tmp);
  fs.rmSync(tmp, { recursive: true, force: true });
  expect(left).toEqual([]);
});

afterAll(async () => {
  if (ROOT_TMP === '') return;
  // Belt and braces: any process whose command line names our directory is one of ours.
  const stray = linux ? processesMentioning(ROOT_TMP) : [];
  for (const pid of stray) killQuietly(pid);
  fs.rmSync(ROOT_TMP, { recursive: true, force: true });
  expect(stray).toEqual([]);
});

// ---- helpers ----------------------------------------------------------------------------

function registeredPids(dir: string): number[] {
  const pids = new Set<number>();
  const visit = (d: string): void => {
    for (const entry of fs.readdirSync(d, { withFileTypes: true })) {
      const file = path.join(d, entry.name);
      if (entry.isDirectory()) visit(file);
      else if (entry.name.endsWith('registry') || entry.name.endsWith('.pid')) {
        for (const word of fs.readFileSync(file, 'utf8').split(/\s+/)) {
          if (/^\d+$/.test(word)) pids.add(Number(word));
        }
      }
    }
  };
  if (fs.existsSync(dir)) visit(dir);
  return [...pids];
}

function cmdline(pid: number): string | null {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return null;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie waiting for init to reap it is not running any more.
  return state(pid) !== 'Z';
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone
  }
}

/** Kills the daemons registered under `dir` (only those whose command line names ROOT_TMP). */
async function killDaemonsUnder(dir: string): Promise<number[]> {
  const pids = registeredPids(dir).filter(
    (pid) => alive(pid) && (cmdline(pid) ?? '').includes(ROOT_TMP),
  );
  for (const pid of pids) killQuietly(pid);
  try {
    await until(() => pids.every((pid) => !alive(pid)), 10000);
  } catch {
    // reported below
  }
  return pids.filter(alive);
}

function processesMentioning(text: string): number[] {
  return fs
    .readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .filter((pid) => pid !== process.pid && (cmdline(pid) ?? '').includes(text) && alive(pid));
}

interface Stat {
  state: string;
  ppid: number;
  pgrp: number;
  session: number;
  ttyNr: number;
}

function stat(pid: number): Stat {
  const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return {
    state: fields[0],
    ppid: Number(fields[1]),
    pgrp: Number(fields[2]),
    session: Number(fields[3]),
    ttyNr: Number(fields[4]),
  };
}

function state(pid: number): string | null {
  try {
    return stat(pid).state;
  } catch {
    return null;
  }
}

function statusField(pid: number, name: string): string {
  const line = fs
    .readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${name}:`));
  return (line ?? '').slice(name.length + 1).trim();
}

function fdTable(pid: number): Map<number, string> {
  const table = new Map<number, string>();
  for (const name of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      table.set(Number(name), fs.readlinkSync(`/proc/${pid}/fd/${name}`));
    } catch {
      // closed meanwhile
    }
  }
  return table;
}

/** The test process's ancestors: the only processes that can be a subreaper for the daemon. */
function ancestors(): number[] {
  const list: number[] = [];
  let pid = process.pid;
  while (pid > 1) {
    pid = stat(pid).ppid;
    list.push(pid);
  }
  return list;
}

/** The pid on a pidfile's first line (the line other tools read). */
function readPid(file: string): number {
  return Number(fs.readFileSync(file, 'utf8').split('\n')[0].trim());
}

function bits(mask: string): bigint {
  return BigInt(`0x${mask}`);
}

function signalBit(signal: NodeJS.Signals): bigint {
  return 1n << BigInt(os.constants.signals[signal] - 1);
}

type Plan = Record<string, unknown>;

function probe(
  plan: Plan,
  forkSafe: boolean,
  extra: Partial<Parameters<typeof runNode>[1]> = {},
): Promise<RunResult> {
  const full = {
    registry: path.join(tmp, 'registry'),
    report: path.join(tmp, 'report.json'),
    ...plan,
  };
  return runFixture('daemon-probe.js', [JSON.stringify(full)], { forkSafe, ...extra });
}

function report(): {
  pid: number;
  processPid: number;
  pidFile: string | null;
  cwd: string;
  env: Record<string, string | null>;
} {
  return JSON.parse(fs.readFileSync(path.join(tmp, 'report.json'), 'utf8'));
}

async function waitForReport(): Promise<void> {
  await until(() => fs.existsSync(path.join(tmp, 'report.json')), 10000);
}

const strategies: Array<[string, boolean]> = [
  ['fork (node --single-threaded)', true],
  ['reexec (plain node)', false],
];

// ---- options ------------------------------------------------------------------------------

describe('daemonize() options', () => {
  test('every bad option is a TypeError/RangeError or system error thrown before any fork', async () => {
    const result = await runFixture('daemon-options.js', [tmp]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const { results, children, files } = JSON.parse(result.stdout) as {
      results: Array<{ label: string; name: string; code: string; message: string }>;
      children: string;
      files: string[];
    };
    const byLabel = Object.fromEntries(results.map((r) => [r.label, r]));
    const expectError = (label: string, name: string, code: string, text?: RegExp): void => {
      expect({ label, name: byLabel[label].name, code: byLabel[label].code }).toEqual({
        label,
        name,
        code,
      });
      if (text) expect(byLabel[label].message).toMatch(text);
    };
    expectError('null options', 'TypeError', 'ERR_INVALID_ARG_TYPE');
    expectError('string options', 'TypeError', 'ERR_INVALID_ARG_TYPE');
    expectError('array options', 'TypeError', 'ERR_INVALID_ARG_TYPE');
    expectError('two arguments', 'TypeError', 'ERR_TOO_MANY_ARGS');
    expectError(
      'unknown option',
      'TypeError',
      'ERR_INVALID_ARG_VALUE',
      /The "options" argument has an unknown property 'pidfile'/,
    );
    expectError('workingDirectory number', 'TypeError', 'ERR_INVALID_ARG_TYPE');
    expectError('workingDirectory empty', 'TypeError', 'ERR_INVALID_ARG_VALUE');
    expectError('workingDirectory NUL', 'TypeError', 'ERR_INVALID_ARG_VALUE');
    expectError('umask string', 'TypeError', 'ERR_INVALID_ARG_TYPE');
    expectError('umask too big', 'RangeError', 'ERR_OUT_OF_RANGE');
    expectError('umask negative', 'RangeError', 'ERR_OUT_OF_RANGE');
    expectError('umask fraction', 'RangeError', 'ERR_OUT_OF_RANGE');
    expectError('pidFile number', 'TypeError', 'ERR_INVALID_ARG_TYPE');
    expectError('stdout boolean', 'TypeError', 'ERR_INVALID_ARG_TYPE');
    expectError('stderr null', 'TypeError', 'ERR_INVALID_ARG_TYPE');
    expectError('keepFds number', 'TypeError', 'ERR_INVALID_ARG_TYPE');
    expectError('keepFds stdio', 'RangeError', 'ERR_OUT_OF_RANGE');
    expectError('keepFds string entry', 'TypeError', 'ERR_INVALID_ARG_TYPE');
    expectError('env string', 'TypeError', 'ERR_INVALID_ARG_TYPE');
    expectError('env number value', 'TypeError', 'ERR_INVALID_ARG_TYPE');
    expectError('env bad name', 'TypeError', 'ERR_INVALID_ARG_VALUE');
    expectError('detach string', 'TypeError', 'ERR_INVALID_ARG_VALUE');
    expectError('waitForReady string', 'TypeError', 'ERR_INVALID_ARG_TYPE');
    expectError('missing workingDirectory', 'Error', 'ENOENT');
    expectError('file as workingDirectory', 'Error', 'ENOTDIR');
    expectError('closed keepFd', 'Error', 'EBADF');
    expectError('log in missing directory', 'Error', 'ENOENT');
    expectError('pidfile in missing directory', 'Error', 'ENOENT');
    if (linux) expect(children).toBe(''); // nothing was forked
    expect(files).toEqual([]); // the pidfile taken before the failed log open is gone again
  });
});

// ---- the daemon process -----------------------------------------------------------------

describeLinux.each(strategies)('the daemon process, %s', (_label, forkSafe) => {
  test('detached, not a session leader, no tty; cwd, umask, stdio, fds, signals, env, pid as asked', async () => {
    const pidFile = path.join(tmp, 'd.pid');
    const out = path.join(tmp, 'out.log');
    const err = path.join(tmp, 'err.log');
    // Descriptors the launcher inherits: 3 a socket, 4 a file to leak, 5 a file to keep,
    // 20 a file above Node's close-on-exec sweep (0-15), so it stays inheritable.
    const leakFile = path.join(tmp, 'leak.txt');
    const keepFile = path.join(tmp, 'keep.txt');
    const highFile = path.join(tmp, 'high.txt');
    const leak = fs.openSync(leakFile, 'w');
    const keep = fs.openSync(keepFile, 'w');
    const high = fs.openSync(highFile, 'w');
    const stdio: Array<'ignore' | 'pipe' | number> = ['ignore', 'pipe', 'pipe', 'pipe', leak, keep];
    while (stdio.length < 20) stdio.push('ignore');
    stdio.push(high);
    let result: RunResult;
    try {
      result = await probe(
        {
          options: {
            pidFile,
            workingDirectory: tmp,
            umask: 0o027,
            stdout: out,
            stderr: err,
            keepFds: [5],
            env: { PF_SET: 'yes', PF_UNSET: null },
            waitForReady: true,
          },
          envNames: ['PF_SET', 'PF_UNSET', 'POSIX_FORK_DAEMONIZE'],
          before: 'ready',
          launcherPrint: true,
        },
        forkSafe,
        { stdio, env: { PF_UNSET: 'inherited' } },
      );
    } finally {
      fs.closeSync(leak);
      fs.closeSync(keep);
      fs.closeSync(high);
    }
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const launcher = JSON.parse(result.stdout.split('\n')[0]) as { launcher: number; fd1: string };
    const pid = readPid(pidFile);
    expect(alive(pid)).toBe(true);

    // process.pid is right, and the launcher's own pid is not the daemon's.
    await waitForReport();
    expect(report().processPid).toBe(pid);
    expect(report().pid).toBe(pid);
    expect(report().pidFile).toBe(pidFile);
    expect(pid).not.toBe(launcher.launcher);

    const s = stat(pid);
    const expectedParent = [1, ...ancestors()];
    expect(expectedParent).toContain(s.ppid); // init, or a subreaper above us
    expect(s.ppid).not.toBe(launcher.launcher);
    expect(s.session).not.toBe(pid); // not a session leader: can never get a terminal
    expect(s.session).not.toBe(stat(process.pid).session);
    expect(s.ttyNr).toBe(0);

    expect(fs.readlinkSync(`/proc/${pid}/cwd`)).toBe(fs.realpathSync(tmp));
    expect(statusField(pid, 'Umask')).toBe('0027');
    expect(bits(statusField(pid, 'SigBlk'))).toBe(0n);
    // Only Node's own ignored signals (SIGPIPE, SIGXFSZ).
    expect(bits(statusField(pid, 'SigIgn'))).toBe(signalBit('SIGPIPE') | signalBit('SIGXFSZ'));

    // The pipe to the launcher is closed right after the 'ready' message the launcher exits on.
    const singleEndedPipes = (): string[] => {
      const all = [...fdTable(pid).values()];
      return all.filter((t) => t.startsWith('pipe:') && all.filter((u) => u === t).length === 1);
    };
    await until(() => singleEndedPipes().length === 0);
    const fds = fdTable(pid);
    expect(fds.get(0)).toBe('/dev/null');
    expect(fds.get(1)).toBe(out);
    expect(fds.get(2)).toBe(err);
    expect(fds.get(5)).toBe(keepFile);
    const targets = [...fds.values()];
    expect(targets).not.toContain(leakFile);
    expect(targets).not.toContain(highFile);
    expect(targets).not.toContain(launcher.fd1); // the launcher's stdout pipe is released
    expect(targets.filter((t) => t.startsWith('socket:'))).toEqual([]);
    // Everything else is the daemon's own: the pidfile (locked) and Node's event-loop
    // descriptors (anonymous inodes, internal pipes with both ends here, and the /dev/null
    // libuv holds in reserve for EMFILE once a stream exists).
    for (const [fd, target] of fds) {
      if (fd <= 2 || fd === 5 || target === pidFile) continue;
      const internalPipe =
        target.startsWith('pipe:') && targets.filter((t) => t === target).length === 2;
      const own = target.startsWith('anon_inode:') || internalPipe || target === '/dev/null';
      expect({ fd, target, own }).toEqual({ fd, target, own: true });
    }
    expect([...fds].filter(([fd, t]) => fd > 2 && t === '/dev/null').length).toBeLessThanOrEqual(1);
    expect(inspectPidFile(pidFile)).toMatchObject({ state: 'running', record: { pid } });

    expect(report().env).toEqual({ PF_SET: 'yes', PF_UNSET: null, POSIX_FORK_DAEMONIZE: null });
    expect(report().cwd).toBe(fs.realpathSync(tmp));
    await until(() => fs.readFileSync(out, 'utf8').includes(`daemon ${pid} started`));
    // The recipe's default is umask 0: a file the daemon creates gets exactly the mode asked.
  });

  test('defaults: cwd /, umask 0 (the recipe), stdio on /dev/null', async () => {
    const pidFile = path.join(tmp, 'd.pid');
    const result = await probe({ options: { pidFile } }, forkSafe);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const pid = readPid(pidFile);
    expect(fs.readlinkSync(`/proc/${pid}/cwd`)).toBe('/');
    expect(statusField(pid, 'Umask')).toBe('0000');
    const fds = fdTable(pid);
    expect([fds.get(0), fds.get(1), fds.get(2)]).toEqual(['/dev/null', '/dev/null', '/dev/null']);
    expect(stat(pid).ttyNr).toBe(0);
  });

  test('the daemon can fork children of its own (it runs in the fork-safe mode)', async () => {
    const pidFile = path.join(tmp, 'd.pid');
    const script = path.join(tmp, 'forker.js');
    fs.writeFileSync(
      script,
      `const pf = require(${JSON.stringify(path.join(ROOT, 'dist', 'src'))});
       const fs = require('fs');
       const daemon = pf.daemonize({ pidFile: ${JSON.stringify(pidFile)}, waitForReady: true });
       fs.appendFileSync(${JSON.stringify(path.join(tmp, 'registry'))}, process.pid + '\\n');
       // A worker forked before ready(): its end must neither remove the daemon's pidfile nor
       // keep the launcher waiting.
       const child = pf.fork();
       if (child === 0) { process.exitCode = 9; }
       else {
         const status = pf.waitpid(child);
         fs.writeFileSync(${JSON.stringify(path.join(tmp, 'child.json'))}, JSON.stringify(status));
         daemon.ready();
         setTimeout(() => {}, 30000);
       }`,
    );
    const result = await runNode([script], { forkSafe });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    await until(() => fs.existsSync(path.join(tmp, 'child.json')), 10000);
    expect(JSON.parse(fs.readFileSync(path.join(tmp, 'child.json'), 'utf8')).exitCode).toBe(9);
    const pid = readPid(pidFile);
    expect(alive(pid)).toBe(true);
    expect(inspectPidFile(pidFile)).toMatchObject({ state: 'running', record: { pid } });
  });
});

describeLinux('the daemon process, fork strategy', () => {
  test('a socket bound before daemonize() is served by the daemon', async () => {
    const pidFile = path.join(tmp, 'd.pid');
    const portFile = path.join(tmp, 'port');
    const script = path.join(tmp, 'bound.js');
    fs.writeFileSync(
      script,
      `const http = require('http');
       const fs = require('fs');
       const { daemonize } = require(${JSON.stringify(path.join(ROOT, 'dist', 'src'))});
       const server = http.createServer((req, res) => res.end(String(process.pid)));
       server.listen(0, '127.0.0.1', () => {
         fs.writeFileSync(${JSON.stringify(portFile)}, String(server.address().port));
         daemonize({ pidFile: ${JSON.stringify(pidFile)} });
         fs.appendFileSync(${JSON.stringify(path.join(tmp, 'registry'))}, process.pid + '\\n');
         setTimeout(() => process.exit(0), 30000).unref();
       });`,
    );
    const result = await runNode([script]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const pid = readPid(pidFile);
    const served = await new Promise<string>((resolve, reject) => {
      http
        .get(
          { host: '127.0.0.1', port: Number(fs.readFileSync(portFile, 'utf8')), agent: false },
          (res) => {
            let body = '';
            res.on('data', (d: Buffer) => (body += d.toString()));
            res.on('end', () => resolve(body));
          },
        )
        .on('error', reject);
    });
    expect(Number(served)).toBe(pid);
  });
});

describeLinux('the daemon process, under a subreaper', () => {
  test('its parent is the nearest subreaper (PR_SET_CHILD_SUBREAPER), not init', async () => {
    const pidFile = path.join(tmp, 'd.pid');
    const plan = { options: { pidFile }, registry: path.join(tmp, 'registry') };
    const result = await runFixture('daemon-subreaper.js', [JSON.stringify(plan)]);
    expect(result.stderr).toBe('');
    const seen = JSON.parse(result.stdout) as {
      subreaper: number;
      status: number;
      daemon: number;
      ppid: number;
    };
    expect(seen.status).toBe(0);
    expect(seen.ppid).toBe(seen.subreaper);
    expect(seen.daemon).toBe(readPid(pidFile));
  });
});

describeLinuxPython.each(strategies)(
  'the daemon process, launched from a terminal, %s',
  (_label, forkSafe) => {
    test('keeps no terminal open and writes its console output to the log, uncoloured', async () => {
      const pidFile = path.join(tmp, 'd.pid');
      const out = path.join(tmp, 'out.log');
      const plan = {
        options: { pidFile, stdout: out, stderr: out, waitForReady: true },
        before: 'ready',
        launcherPrint: true,
        registry: path.join(tmp, 'registry'),
      };
      // pty.spawn returns only when every holder of the terminal has closed it.
      const python = spawn(
        'python3',
        [
          '-c',
          'import pty,sys; pty.spawn(sys.argv[1:])',
          process.execPath,
          ...(forkSafe ? FORK_SAFE_FLAGS : []),
          path.join(FIXTURES, 'daemon-probe.js'),
          JSON.stringify(plan),
        ],
        { stdio: ['pipe', 'pipe', 'pipe'], detached: true },
      );
      helpers.push(python);
      let output = '';
      python.stdout.on('data', (d: Buffer) => (output += d.toString()));
      const code = await new Promise<number | null>((resolve) =>
        python.on('exit', (c) => resolve(c)),
      );
      expect(code).toBe(0);
      expect(output).toContain('"launcher"');
      const pid = readPid(pidFile);
      expect(stat(pid).ttyNr).toBe(0);
      for (const target of fdTable(pid).values()) expect(target).not.toMatch(/^\/dev\/(pts|tty)/);
      await until(() => fs.readFileSync(out, 'utf8').includes(`daemon ${pid} started`));
      expect(fs.readFileSync(out, 'utf8')).not.toContain('\u001b[');
    });
  },
);

// ---- pidfile --------------------------------------------------------------------------------

describeLinux.each(strategies)('pidfile, %s', (_label, forkSafe) => {
  test('a second instance fails with "already running (pid N)" and a non-zero status', async () => {
    const pidFile = path.join(tmp, 'd.pid');
    const first = await probe({ options: { pidFile } }, forkSafe);
    expect(first.code).toBe(0);
    const pid = readPid(pidFile);
    const second = await probe(
      { options: { pidFile }, registry: path.join(tmp, 'second-registry') },
      forkSafe,
    );
    expect(second.code).not.toBe(0);
    expect(second.stderr).toContain(`already running (pid ${pid})`);
    expect(second.stderr).toContain('ERR_DAEMON_RUNNING');
    expect(fs.existsSync(path.join(tmp, 'second-registry'))).toBe(false);
    expect(readPid(pidFile)).toBe(pid);
    expect(alive(pid)).toBe(true);
  });

  test('two launches racing: exactly one daemon runs', async () => {
    const pidFile = path.join(tmp, 'd.pid');
    const results = await Promise.all([
      probe({ options: { pidFile }, registry: path.join(tmp, 'a-registry') }, forkSafe),
      probe({ options: { pidFile }, registry: path.join(tmp, 'b-registry') }, forkSafe),
    ]);
    const codes = results.map((r) => r.code).sort();
    expect(codes[0]).toBe(0);
    expect(codes[1]).not.toBe(0);
    const pid = readPid(pidFile);
    // The launcher returns once the daemon has written the pidfile; the fixture appends to its
    // registry and then writes the report after daemonize() returns in the daemon.
    await waitForReport();
    const started = ['a-registry', 'b-registry']
      .map((name) => path.join(tmp, name))
      .filter((file) => fs.existsSync(file))
      .flatMap((file) => fs.readFileSync(file, 'utf8').trim().split('\n').map(Number));
    expect(started).toEqual([pid]);
    expect(alive(pid)).toBe(true);
    const loser = results.find((r) => r.code !== 0) as RunResult;
    expect(loser.stderr).toContain(`already running (pid ${pid})`);
  });

  test('a stale pidfile (dead pid, foreign live pid, garbage) is replaced', async () => {
    const pidFile = path.join(tmp, 'd.pid');
    const dead = await runNode(['-e', '0']);
    expect(alive(dead.pid)).toBe(false);
    for (const content of [`${dead.pid}\n`, `${process.pid}\n`, 'not a pid\n']) {
      fs.writeFileSync(pidFile, content);
      const result = await probe({ options: { pidFile }, after: 'natural' }, forkSafe);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      await waitForReport();
      const pid = report().pid;
      await until(() => !fs.existsSync(pidFile) || readPid(pidFile) === pid);
      await until(() => !alive(pid), 10000);
      fs.rmSync(path.join(tmp, 'report.json'));
    }
  });

  test('an unlocked pidfile naming a live copy of this program still counts as running', async () => {
    const lockedFile = path.join(tmp, 'locked.pid');
    expect((await probe({ options: { pidFile: lockedFile } }, forkSafe)).code).toBe(0);
    const pid = readPid(lockedFile);
    const legacy = path.join(tmp, 'legacy.pid');
    fs.writeFileSync(legacy, `${pid}\n`); // as a tool that does not lock would leave it
    const second = await probe(
      { options: { pidFile: legacy }, registry: path.join(tmp, 'x-registry') },
      forkSafe,
    );
    expect(second.code).not.toBe(0);
    expect(second.stderr).toContain(`already running (pid ${pid})`);
  });

  test.each([
    ['natural end', { after: 'natural' }, null],
    ['process.exit', { after: 'processExit' }, null],
    ['uncaught exception', { after: 'throw' }, null],
    ['SIGTERM', {}, 'SIGTERM'],
    ['SIGINT', {}, 'SIGINT'],
    ['SIGHUP', {}, 'SIGHUP'],
  ] as Array<[string, Plan, NodeJS.Signals | null]>)(
    'is removed on %s',
    async (_how, plan, signal) => {
      const pidFile = path.join(tmp, 'd.pid');
      const result = await probe({ options: { pidFile }, ...plan }, forkSafe);
      expect(result.code).toBe(0);
      await waitForReport();
      const pid = report().pid;
      if (signal) {
        expect(readPid(pidFile)).toBe(pid);
        process.kill(pid, signal);
      }
      await until(() => !alive(pid), 10000);
      expect(fs.existsSync(pidFile)).toBe(false);
    },
  );
});

describeLinux('pidfile safety', () => {
  test('a symbolic link as pidfile is refused before anything forks', async () => {
    const target = path.join(tmp, 'precious.txt');
    fs.writeFileSync(target, 'keep me');
    const pidFile = path.join(tmp, 'd.pid');
    fs.symlinkSync(target, pidFile);
    const result = await probe({ options: { pidFile } }, true);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('symbolic link');
    expect(fs.readFileSync(target, 'utf8')).toBe('keep me');
    expect(fs.existsSync(path.join(tmp, 'registry'))).toBe(false);
  });
});

// ---- readiness ------------------------------------------------------------------------------

describeLinux.each(strategies)('readiness, %s', (_label, forkSafe) => {
  test('the launcher exits 0 only after ready()', async () => {
    const pidFile = path.join(tmp, 'd.pid');
    const readyMark = path.join(tmp, 'ready.mark');
    const result = await probe(
      { options: { pidFile, waitForReady: true }, before: 'ready', readyMark, readyDelayMs: 300 },
      forkSafe,
    );
    // Checked when the launcher has already exited: the daemon had reached ready().
    expect(fs.existsSync(readyMark)).toBe(true);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(alive(readPid(pidFile))).toBe(true);
  });

  test.each([
    ['daemon.fail(err)', 'fail', ['failed before it was ready', 'database unreachable']],
    [
      'an uncaught exception',
      'throw',
      ['failed before it was ready', 'TypeError: config file is broken'],
    ],
    ['an early exit', 'exit3', ['exited with code 3 before it was ready']],
    ['being killed', 'sigkill', ['ended before it was ready']],
  ])('the launcher exits non-zero with the error on %s', async (_how, before, texts) => {
    const pidFile = path.join(tmp, 'd.pid');
    const result = await probe({ options: { pidFile, waitForReady: true }, before }, forkSafe);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('DaemonStartError');
    for (const text of texts) expect(result.stderr).toContain(text);
    const daemons = registeredPids(tmp);
    expect(daemons.length).toBe(1);
    await until(() => !alive(daemons[0]), 10000);
    expect(fs.existsSync(pidFile)).toBe(false);
  });
});

describeLinuxPython('readiness with systemd ($NOTIFY_SOCKET)', () => {
  async function receiver(address: string): Promise<{ messages: () => string[] }> {
    const python = spawn(
      'python3',
      [
        '-u',
        '-c',
        [
          'import socket, sys',
          's = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)',
          "s.bind(sys.argv[1].replace('@', '\\0', 1) if sys.argv[1].startswith('@') else sys.argv[1])",
          "print('bound')",
          's.settimeout(30)',
          'while True:',
          '    print(repr(s.recv(4096).decode()))',
        ].join('\n'),
        address,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'], detached: true },
    );
    helpers.push(python);
    let output = '';
    python.stdout.on('data', (d: Buffer) => (output += d.toString()));
    await until(() => output.includes('bound'), 10000);
    return {
      messages: () =>
        output
          .split('\n')
          .filter((l) => l.startsWith("'"))
          .map((l) => l.slice(1, -1).replace(/\\n/g, '\n')),
    };
  }

  test('detached: ready() sends READY=1 with MAINPID', async () => {
    const address = path.join(tmp, 'notify.sock');
    const socket = await receiver(address);
    const pidFile = path.join(tmp, 'd.pid');
    const result = await probe(
      { options: { pidFile, detach: true, waitForReady: true }, before: 'ready' },
      true,
      { env: { NOTIFY_SOCKET: address } },
    );
    expect(result.code).toBe(0);
    const pid = readPid(pidFile);
    await until(() => socket.messages().length > 0, 10000);
    expect(socket.messages()).toEqual([`READY=1\nMAINPID=${pid}`]);
  });

  test("'auto' does not fork under systemd: the process becomes the daemon in place", async () => {
    const address = `@pf-notify-${process.pid}-${caseNumber}`;
    const socket = await receiver(address);
    const pidFile = path.join(tmp, 'd.pid');
    const result = await probe(
      { options: { pidFile, waitForReady: true }, before: 'ready', after: 'natural' },
      true,
      { env: { NOTIFY_SOCKET: address } },
    );
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(report().pid).toBe(result.pid); // no fork: the launcher itself
    await until(() => socket.messages().length > 0, 10000);
    expect(socket.messages()).toEqual(['READY=1']);
    expect(fs.existsSync(pidFile)).toBe(false); // removed at its natural end
  });

  test('detach: false runs in the foreground: no fork, stdio redirected only where asked', async () => {
    const out = path.join(tmp, 'out.log');
    const pidFile = path.join(tmp, 'd.pid');
    const result = await probe(
      {
        options: { detach: false, stdout: out, pidFile, workingDirectory: tmp, umask: 0o077 },
        after: 'natural',
      },
      false,
    );
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(report().pid).toBe(result.pid);
    expect(report().cwd).toBe(fs.realpathSync(tmp));
    expect(result.stdout).not.toContain('started');
    expect(fs.readFileSync(out, 'utf8')).toContain(`daemon ${result.pid} started`);
    expect(fs.existsSync(pidFile)).toBe(false);
  });

  test("'auto' does not fork when $INVOCATION_ID says systemd started us", async () => {
    const result = await probe({ options: {}, after: 'natural' }, true, {
      env: { INVOCATION_ID: 'abc' },
    });
    expect(result.code).toBe(0);
    expect(report().pid).toBe(result.pid);
    expect(result.stdout).toContain(`daemon ${result.pid} started`); // stdio left alone in place
  });
});

// ---- end to end -----------------------------------------------------------------------------

function get(
  port: number,
  urlPath: string,
): Promise<{ pid: number; url: string; requests: number }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: urlPath, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve(JSON.parse(body)));
      })
      .on('error', reject);
  });
}

function connectError(port: number): Promise<string | null> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.on('connect', () => {
      socket.destroy();
      resolve(null);
    });
    socket.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
  });
}

describeLinux.each(strategies)('end to end: an HTTP server daemon, %s', (_label, forkSafe) => {
  test('waits for readiness, serves, stops on SIGTERM removing its pidfile and closing its port', async () => {
    const pidFile = path.join(tmp, 'http.pid');
    const portFile = path.join(tmp, 'port');
    const log = path.join(tmp, 'http.log');
    const result = await runFixture(
      'daemon-http.js',
      [pidFile, portFile, log, path.join(tmp, 'registry')],
      {
        forkSafe,
      },
    );
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    // The launcher returned after ready(): the port is known and the server answers at once.
    const port = Number(fs.readFileSync(portFile, 'utf8'));
    const pid = readPid(pidFile);
    expect(stat(pid).ppid).not.toBe(result.pid);
    for (let i = 1; i <= 3; i++) {
      const reply = await get(port, `/hello/${i}`);
      expect(reply).toEqual({ pid, url: `/hello/${i}`, requests: i });
    }
    process.kill(pid, 'SIGTERM');
    await until(() => !alive(pid), 10000);
    expect(fs.existsSync(pidFile)).toBe(false);
    expect(await connectError(port)).toBe('ECONNREFUSED');
    expect(fs.readFileSync(log, 'utf8')).toContain('SIGTERM after 3 requests: closing');
  });
});

// ---- the example ----------------------------------------------------------------------------

describeLinux('examples/daemon.ts', () => {
  test.each([['hand-written'], ['library']])(
    'the %s recipe leaves a daemon whose pidfile goes away at its end',
    async (mode) => {
      const pidFile = path.join(tmp, 'example.pid');
      const result = await runNode([
        path.join(ROOT, 'dist', 'examples', 'daemon.js'),
        '--pid-file',
        pidFile,
        '--seconds',
        '1',
        ...(mode === 'library' ? ['--library'] : []),
      ]);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      // The hand-written recipe's launcher does not wait for its daemon: the pidfile appears a moment later.
      await until(() => fs.existsSync(pidFile) && /^\d+\n/.test(fs.readFileSync(pidFile, 'utf8')));
      fs.writeFileSync(path.join(tmp, 'registry'), fs.readFileSync(pidFile));
      const pid = readPid(pidFile);
      // The daemon can write its pidfile before its parent, the first child, has exited.
      await until(() => [1, ...ancestors()].includes(stat(pid).ppid));
      const s = stat(pid);
      expect([1, ...ancestors()]).toContain(s.ppid);
      expect(s.session).not.toBe(pid);
      expect(s.ttyNr).toBe(0);
      await until(() => !alive(pid), 10000);
      expect(fs.existsSync(pidFile)).toBe(false);
    },
  );
});

describeLinuxPython('examples/daemon.ts launched from a terminal', () => {
  test('the hand-written recipe leaves the daemon no descriptor on the terminal', async () => {
    const pidFile = path.join(tmp, 'example.pid');
    // pty.spawn returns only when every holder of the terminal has closed it.
    const python = spawn(
      'python3',
      [
        '-c',
        'import pty,sys; pty.spawn(sys.argv[1:])',
        process.execPath,
        path.join(ROOT, 'dist', 'examples', 'daemon.js'),
        '--pid-file',
        pidFile,
        '--seconds',
        '5',
      ],
      { stdio: ['pipe', 'pipe', 'pipe'], detached: true },
    );
    helpers.push(python);
    // Listened for at once: the launcher may leave the terminal, and python end, before the
    // daemon has written its pidfile.
    const exited = new Promise<number | null>((resolve) => python.on('exit', (c) => resolve(c)));
    let output = '';
    python.stdout.on('data', (d: Buffer) => (output += d.toString()));
    // The pidfile is written after the descriptors are set: from then on they are final.
    await until(
      () => fs.existsSync(pidFile) && /^\d+\n$/.test(fs.readFileSync(pidFile, 'utf8')),
      20000,
    );
    const pid = readPid(pidFile);
    expect(output).toContain('daemonizing');
    const fds = fdTable(pid);
    expect([...fds.values()].filter((target) => /^\/dev\/(pts|tty)/.test(target))).toEqual([]);
    expect(fds.get(1)).toBe('/dev/null');
    expect(await exited).toBe(0);
    await until(() => !alive(pid), 20000);
  });
});
