// Pidfiles as proof, a stop that ends the whole service, files that are never followed or
// adopted: the daemon tools tried as a careless user and as a hostile one would. Real daemons,
// checked through /proc. Cases that need a second user run as root (the test creates the
// user and removes it); they are skipped otherwise.
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { FIXTURES, ROOT, RunOptions, RunResult, runNode, until } from './helpers';

// The compiled module, as the CLI uses it: reading a pidfile forks nothing.
const { inspectPidFile } = require('../dist/src/pidfile') as typeof import('../src/pidfile');

const CLI = path.join(ROOT, 'dist', 'src', 'cli', 'index.js');
const linux = process.platform === 'linux';
const isRoot = process.getuid?.() === 0;
const describeLinux = linux ? describe : describe.skip;
const describeRoot = linux && isRoot ? describe : describe.skip;
/** A sleep duration no other program on the machine uses: how this file finds its own. */
const MARK = `${700 + (process.pid % 200)}.${Date.now() % 1000}`;

let tmp = '';
/** Sessions of daemons this file started: every member is killed in afterAll. */
const sessions = new Set<number>();
let otherUser: { name: string; uid: number } | null = null;

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'posix-fork-trust-'));
  fs.chmodSync(tmp, 0o755);
});

afterAll(() => {
  for (const pid of ownSleeps()) sessions.add(stat(pid)?.sid ?? 0);
  sessions.delete(0);
  for (const sid of sessions) {
    for (const pid of sessionPids(sid)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  if (otherUser !== null) spawnSync('userdel', ['-f', otherUser.name], { stdio: 'ignore' });
  fs.rmSync(tmp, { recursive: true, force: true });
});

// ---- helpers --------------------------------------------------------------------------

function cli(args: string[], options: RunOptions = {}): Promise<RunResult> {
  return runNode([CLI, ...args], { forkSafe: false, ...options });
}

function stat(pid: number): { state: string; ppid: number; sid: number } | null {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { state: f[0], ppid: Number(f[1]), sid: Number(f[3]) };
  } catch {
    return null;
  }
}

function alive(pid: number): boolean {
  const s = stat(pid);
  return s !== null && s.state !== 'Z';
}

function cmdline(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
  } catch {
    return '';
  }
}

function allPids(): number[] {
  return fs
    .readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n))
    .map(Number);
}

function sessionPids(sid: number): number[] {
  return allPids().filter((pid) => stat(pid)?.sid === sid && alive(pid));
}

/** Live `sleep MARK…` processes: every one was started by this file. */
function ownSleeps(): number[] {
  return allPids().filter((pid) => cmdline(pid).startsWith(`sleep ${MARK}`) && alive(pid));
}

function readRecord(file: string): { pid: number; sid: number | null } {
  const [first, second = ''] = fs.readFileSync(file, 'utf8').split('\n');
  const sid = /sid=(\d+)/.exec(second);
  const record = { pid: Number(first), sid: sid ? Number(sid[1]) : null };
  if (record.sid !== null) sessions.add(record.sid);
  return record;
}

/** A sleep in the test's own process group (killed at teardown), and its pid. */
function foreignSleep(): number {
  const child = spawn('sleep', [`${MARK}9`], { stdio: 'ignore' });
  child.unref();
  return child.pid as number;
}

function ensureOtherUser(): { name: string; uid: number } {
  if (otherUser !== null) return otherUser;
  const name = `pftrust${process.pid % 100000}`;
  const made = spawnSync('useradd', ['-M', '-N', '-s', '/usr/sbin/nologin', name], {
    encoding: 'utf8',
  });
  if (made.status !== 0) throw new Error(`useradd failed: ${made.stderr}`);
  const uid = Number(spawnSync('id', ['-u', name], { encoding: 'utf8' }).stdout.trim());
  otherUser = { name, uid };
  return otherUser;
}

function asOtherUser(command: string[]): ReturnType<typeof spawnSync> {
  return spawnSync('runuser', ['-u', ensureOtherUser().name, '--', ...command], {
    encoding: 'utf8',
  });
}

/** The daemon's record once it is written (the launcher has returned by then). */
async function started(file: string): Promise<{ pid: number; sid: number | null }> {
  await until(() => fs.existsSync(file) && /^\d+\nposix-fork /.test(fs.readFileSync(file, 'utf8')));
  return readRecord(file);
}

// ---- pidfiles prove, or nothing is signalled -----------------------------------------

describeLinux('a pidfile names a process only with proof', () => {
  test('a live pid the file was not written for is neither "running" nor signalled', async () => {
    const file = path.join(tmp, 'foreign.pid');
    const victim = foreignSleep();
    fs.writeFileSync(file, `${victim}\n`);
    const status = await cli(['status', '--pidfile', file]);
    expect(status.code).toBe(4);
    expect(status.stdout).toMatch(/plain number .* cannot prove/);
    const stop = await cli(['stop', '--pidfile', file]);
    expect(stop.code).toBe(4);
    expect(stop.stderr).toMatch(/nothing was signalled/);
    expect(alive(victim)).toBe(true);
    // A forged record (wrong start time) is no proof either: the file is stale.
    fs.writeFileSync(file, `${victim}\nposix-fork start=1 sid=${victim}\n`);
    expect((await cli(['status', '--pidfile', file])).code).toBe(1);
    expect((await cli(['stop', '--pidfile', file])).code).toBe(0);
    expect(alive(victim)).toBe(true);
    process.kill(victim, 'SIGKILL');
  });

  test("a pidfile naming the caller's own shell does not kill the shell", async () => {
    const file = path.join(tmp, 'shell.pid');
    const script =
      `echo $$ > ${file}; ${JSON.stringify(process.execPath)} ${CLI} stop --pidfile ${file}; ` +
      'echo "survived $?"';
    const result = spawnSync('sh', ['-c', script], { encoding: 'utf8', timeout: 20000 });
    expect(result.stdout).toContain('survived 4');
  });

  test('--exec and --name prove a plain pid, as start-stop-daemon does', async () => {
    const file = path.join(tmp, 'nginx-like.pid');
    const victim = foreignSleep();
    fs.writeFileSync(file, `${victim}\n`);
    const wrong = await cli(['status', '--pidfile', file, '--exec', process.execPath]);
    expect(wrong.code).toBe(1);
    const byName = await cli(['status', '--pidfile', file, '--name', 'sleep']);
    expect(byName.code).toBe(0);
    const sleepPath = fs.realpathSync(`/proc/${victim}/exe`);
    const stop = await cli(['stop', '--pidfile', file, '--exec', sleepPath]);
    expect(stop.code).toBe(0);
    await until(() => !alive(victim));
  });
});

// ---- stop ends the service; children never make a dead daemon look alive ---------------

describeLinux('the whole service', () => {
  test('stop ends every process of the session, SIGKILL for those that ignore SIGTERM', async () => {
    const file = path.join(tmp, 'stubborn.pid');
    const launch = await cli([
      'daemon',
      '--pidfile',
      file,
      '--',
      'sh',
      '-c',
      `trap "" TERM; sleep ${MARK}1; :`,
    ]);
    expect(launch.code).toBe(0);
    const { pid, sid } = await started(file);
    await until(() => sessionPids(sid as number).length === 2);
    const stop = await cli(['stop', '--pidfile', file, '--timeout', '1']);
    expect(stop.stdout).toMatch(/sent SIGKILL/);
    expect(stop.code).toBe(0);
    expect(alive(pid)).toBe(false);
    expect(sessionPids(sid as number)).toEqual([]);
    expect(fs.existsSync(file)).toBe(false);
  });

  test('CLI: a SIGKILLed daemon whose child lives on is "dead", relaunchable, and stop ends the child', async () => {
    const file = path.join(tmp, 'leaky.pid');
    expect(
      (
        await cli([
          'daemon',
          '--pidfile',
          file,
          '--',
          'sh',
          '-c',
          `sleep ${MARK}2 & exec sleep ${MARK}3`,
        ])
      ).code,
    ).toBe(0);
    const { pid, sid } = await started(file);
    await until(() => sessionPids(sid as number).length === 2);
    const child = sessionPids(sid as number).find((p) => p !== pid) as number;
    process.kill(pid, 'SIGKILL');
    await until(() => !alive(pid));
    const status = await cli(['status', '--pidfile', file]);
    expect(status.code).toBe(1);
    expect(status.stdout).toBe(
      `dead (pid ${pid} is gone), 1 process of its session still runs: pids ${child}\n`,
    );
    const stop = await cli(['stop', '--pidfile', file, '--timeout', '2']);
    expect(stop.code).toBe(0);
    expect(alive(child)).toBe(false);
    expect((await cli(['status', '--pidfile', file])).code).toBe(3);
    // Nothing holds the lock any more: a relaunch starts a new daemon.
    expect((await cli(['daemon', '--pidfile', file, '--', 'sleep', `${MARK}4`])).code).toBe(0);
    const again = await started(file);
    expect(again.pid).not.toBe(pid);
    expect((await cli(['stop', '--pidfile', file])).code).toBe(0);
  });

  test('daemonize(): workers fork()ed by a SIGKILLed daemon hold no lock; a relaunch works', async () => {
    const file = path.join(tmp, 'workers.pid');
    const report = path.join(tmp, 'workers.json');
    const plan = JSON.stringify({ pidFile: file, report, count: 2 });
    expect((await runNode([path.join(FIXTURES, 'daemon-trust.js'), 'workers', plan])).code).toBe(0);
    await until(() => fs.existsSync(report));
    const { pid, workers } = JSON.parse(fs.readFileSync(report, 'utf8')) as {
      pid: number;
      workers: number[];
    };
    const { sid } = readRecord(file);
    expect(sid).not.toBeNull();
    process.kill(pid, 'SIGKILL');
    await until(() => !alive(pid));
    const status = await cli(['status', '--pidfile', file]);
    expect(status.code).toBe(1);
    expect(status.stdout).toMatch(new RegExp(`^dead \\(pid ${pid} is gone\\), 2 processes`));
    for (const worker of workers) expect(status.stdout).toContain(String(worker));
    fs.rmSync(report);
    expect((await runNode([path.join(FIXTURES, 'daemon-trust.js'), 'workers', plan])).code).toBe(0);
    await until(() => fs.existsSync(report));
    const second = JSON.parse(fs.readFileSync(report, 'utf8')) as { pid: number };
    readRecord(file);
    expect((await cli(['status', '--pidfile', file])).stdout).toBe(`running (pid ${second.pid})\n`);
    expect((await cli(['stop', '--pidfile', file])).code).toBe(0);
    for (const worker of workers) expect(alive(worker)).toBe(true); // not the new service's
  });
});

// ---- odd files, links, owners ----------------------------------------------------------

describeLinux('files in shared directories', () => {
  test.each([['a FIFO'], ['a directory'], ['a socket']])(
    'status and stop answer at once for %s: exit 4',
    async (kind) => {
      const file = path.join(tmp, `odd-${kind.replace(/\W/g, '')}.pid`);
      if (kind === 'a FIFO') spawnSync('mkfifo', [file]);
      else if (kind === 'a directory') fs.mkdirSync(file);
      else
        spawnSync('python3', [
          '-c',
          `import socket; socket.socket(socket.AF_UNIX).bind(${JSON.stringify(file)})`,
        ]);
      const status = await cli(['status', '--pidfile', file], { timeoutMs: 10000 });
      expect(status.code).toBe(4);
      expect(status.stdout).toContain('not a regular file');
      expect((await cli(['stop', '--pidfile', file], { timeoutMs: 10000 })).code).toBe(4);
      const launch = await cli(['daemon', '--pidfile', file, '--', 'true'], { timeoutMs: 10000 });
      expect(launch.code).toBe(1);
      expect(launch.stderr).toContain('not a regular file');
    },
  );

  test('log paths: a link is refused and a dangling link creates nothing (CLI and daemonize())', async () => {
    const target = path.join(tmp, 'precious.txt');
    fs.writeFileSync(target, 'keep\n');
    const link = path.join(tmp, 'log-link');
    fs.symlinkSync(target, link);
    const dangling = path.join(tmp, 'log-dangling');
    const created = path.join(tmp, 'created-by-link');
    fs.symlinkSync(created, dangling);
    for (const option of ['--stdout', '--stderr']) {
      for (const file of [link, dangling]) {
        const pidFile = path.join(tmp, 'link.pid');
        const result = await cli([
          'daemon',
          '--pidfile',
          pidFile,
          option,
          file,
          '--',
          'sleep',
          `${MARK}5`,
        ]);
        expect(result.code).toBe(1);
        expect(result.stderr).toContain('is a symbolic link; refusing to follow it');
        expect(fs.existsSync(pidFile)).toBe(false);
      }
    }
    const probe = await runNode([
      path.join(FIXTURES, 'daemon-probe.js'),
      JSON.stringify({ options: { stdout: link } }),
    ]);
    expect(probe.code).not.toBe(0);
    expect(probe.stderr).toContain('ERR_INVALID_LOG_FILE');
    expect(fs.readFileSync(target, 'utf8')).toBe('keep\n');
    expect(fs.existsSync(created)).toBe(false);
    expect(ownSleeps()).toEqual([]);
  });

  test('options are read from own properties only (daemonize(), Reaper, Process)', async () => {
    const file = path.join(tmp, 'polluted.pid');
    const report = path.join(tmp, 'polluted.json');
    const trap = path.join(tmp, 'trap.log');
    const launch = await runNode([
      path.join(FIXTURES, 'daemon-trust.js'),
      'polluted',
      JSON.stringify({ pidFile: file, report, trap, lifetimeMs: 5000 }),
    ]);
    expect(launch.stderr).toBe('');
    expect(launch.code).toBe(0);
    await until(() => fs.existsSync(report));
    const seen = JSON.parse(fs.readFileSync(report, 'utf8')) as {
      pid: number;
      fd1: string;
      umask: number;
    };
    readRecord(file);
    expect(seen.fd1).toBe('/dev/null');
    expect(seen.umask).toBe(0);
    expect(fs.existsSync(trap)).toBe(false);
    expect((await cli(['stop', '--pidfile', file])).code).toBe(0);

    const inProcess = await runNode([
      '-e',
      `
      const { Reaper, Process } = require('posix-fork');
      Object.prototype.scope = 'all';
      Object.prototype.pollMs = 5;
      Object.prototype.name = 'planted';
      Object.prototype.target = () => {};
      const reaper = new Reaper({});
      const p = new Process({});
      console.log(JSON.stringify({ scope: reaper.scope, pollMs: reaper.pollMs ?? null, name: p.name }));
    `,
    ]);
    expect(inProcess.stderr).toBe('');
    expect(JSON.parse(inProcess.stdout)).toEqual({ scope: 'own', pollMs: null, name: 'Process-1' });
  });
});

describeLinux('what a daemon keeps', () => {
  test('--no-detach: the command keeps the descriptors the launcher was started with (socket activation)', async () => {
    const inherited = path.join(tmp, 'inherited.txt');
    fs.writeFileSync(inherited, 'x');
    const out = path.join(tmp, 'fds.txt');
    const fd = fs.openSync(inherited, 'r');
    try {
      const result = spawnSync(
        process.execPath,
        [CLI, 'daemon', '--no-detach', '--', 'sh', '-c', `readlink /proc/$$/fd/3 > ${out}`],
        { stdio: ['ignore', 'pipe', 'pipe', fd], encoding: 'utf8', timeout: 20000 },
      );
      expect(result.stderr).toBe('');
      expect(result.status).toBe(0);
    } finally {
      fs.closeSync(fd);
    }
    expect(fs.readFileSync(out, 'utf8').trim()).toBe(inherited);
  });
});

describeRoot('another user (as root; the test creates and removes the user)', () => {
  test('a pidfile another user made in a sticky directory is never adopted', async () => {
    const sticky = path.join(tmp, 'sticky');
    fs.mkdirSync(sticky);
    fs.chmodSync(sticky, 0o1777);
    const file = path.join(sticky, 'app.pid');
    const made = asOtherUser(['sh', '-c', `umask 0; : > ${file}`]);
    expect(made.status).toBe(0);
    const before = fs.statSync(file);
    expect(before.uid).toBe(ensureOtherUser().uid);
    const launch = await cli(['daemon', '--pidfile', file, '--', 'sleep', `${MARK}6`]);
    expect(launch.code).toBe(1);
    expect(launch.stderr).toContain(`belongs to uid ${ensureOtherUser().uid}`);
    const after = fs.statSync(file);
    expect([after.uid, after.mode, after.ino]).toEqual([before.uid, before.mode, before.ino]);
    const status = await cli(['status', '--pidfile', file]);
    expect(status.code).toBe(4);
    expect(status.stdout).toContain('cannot trust');
    // A file of ours that others can write is no proof either.
    const writable = path.join(tmp, 'writable.pid');
    fs.writeFileSync(writable, `${process.pid}\nposix-fork start=1\n`);
    fs.chmodSync(writable, 0o666);
    expect((await cli(['stop', '--pidfile', writable])).code).toBe(4);
    expect(ownSleeps()).toEqual([]);
  });

  test("another user's shared lock on a stale pidfile does not block a restart silently", async () => {
    const file = path.join(tmp, 'shared-lock.pid');
    fs.writeFileSync(file, '999999\n');
    fs.chmodSync(tmp, 0o755);
    fs.chmodSync(file, 0o644);
    const { name } = ensureOtherUser();
    const holder = spawn('runuser', ['-u', name, '--', 'flock', '-s', file, 'sleep', `${MARK}7`], {
      stdio: 'ignore',
    });
    const holderPid = holder.pid as number;
    try {
      await until(
        () =>
          fs.readFileSync('/proc/locks', 'utf8').includes(` ${fs.statSync(file).ino} `) ||
          /FLOCK/.test(fs.readFileSync('/proc/locks', 'utf8')),
      );
      await until(() => allPids().some((p) => cmdline(p) === `sleep ${MARK}7`));
      const launch = await cli(['daemon', '--pidfile', file, '--', 'sleep', `${MARK}8`], {
        timeoutMs: 8000,
      });
      expect(launch.code).toBe(1);
      expect(launch.stderr).toMatch(/is locked by pid \d+ \(\w+, uid \d+\)/);
      const status = await cli(['status', '--pidfile', file]);
      expect(status.code).toBe(1);
      expect(status.stdout).toMatch(/stale pid 999999.*locked by pid/);
      const stop = await cli(['stop', '--pidfile', file]);
      expect(stop.code).toBe(0);
      expect(stop.stdout).toMatch(/is locked by pid .*: left in place/);
      expect(fs.existsSync(file)).toBe(true);
    } finally {
      for (const pid of allPids().filter((p) => cmdline(p) === `sleep ${MARK}7`))
        process.kill(pid, 'SIGKILL');
      try {
        process.kill(holderPid, 'SIGKILL');
      } catch {
        // gone with its sleep
      }
    }
  });

  test('a full disk under the log path fails the launch (ENOSPC), and no daemon is left', async () => {
    const mount = path.join(tmp, 'full');
    fs.mkdirSync(mount);
    const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mount], {
      encoding: 'utf8',
    });
    if (mounted.status !== 0) {
      console.warn(`skipped: cannot mount a tmpfs here (${mounted.stderr.trim()})`);
      return;
    }
    try {
      spawnSync('sh', ['-c', `cat /dev/zero > ${mount}/filler`], { stdio: 'ignore' });
      const pidFile = path.join(tmp, 'full.pid');
      const result = await cli([
        'daemon',
        '--pidfile',
        pidFile,
        '--stdout',
        path.join(mount, 'out.log'),
        '--',
        'sleep',
        `${MARK}0`,
      ]);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('ENOSPC');
      expect(fs.existsSync(pidFile)).toBe(false);
      expect(ownSleeps()).toEqual([]);
    } finally {
      spawnSync('umount', [mount]);
    }
  });
});

// ---- launches that race, launchers that die ----------------------------------------------

describeLinux('launches', () => {
  test('20 concurrent launches give exactly one daemon', async () => {
    const file = path.join(tmp, 'race.pid');
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        cli(['daemon', '--pidfile', file, '--', 'sleep', `${MARK}10`], { timeoutMs: 60000 }),
      ),
    );
    const { pid } = await started(file);
    expect(results.filter((r) => r.code === 0)).toHaveLength(1);
    for (const loser of results.filter((r) => r.code !== 0)) {
      expect(loser.code).toBe(1);
      expect(loser.stderr).toMatch(/already running \(pid \d+\)/);
    }
    expect(ownSleeps()).toEqual([pid]);
    expect((await cli(['stop', '--pidfile', file])).code).toBe(0);
  }, 120000);

  test('a launcher killed at any moment (50 runs) leaves status, stop and relaunch consistent', async () => {
    const file = path.join(tmp, 'killed.pid');
    const outcomes = new Map<string, number>();
    for (let run = 0; run < 50; run++) {
      const launcher = spawn(
        process.execPath,
        [CLI, 'daemon', '--pidfile', file, '--', 'sleep', `${MARK}11`],
        { stdio: 'ignore' },
      );
      // Listened for at once: the launcher can be done before the kill.
      const exited = new Promise((r) => launcher.once('exit', r));
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 150)));
      launcher.kill('SIGKILL'); // nothing once it has ended: its pid may be another's by then
      await exited;
      // What `status` reports (the same module, asked in this process to save a node start).
      let verdict = inspectPidFile(file);
      const deadline = Date.now() + 10000;
      while (verdict.state === 'starting' && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
        verdict = inspectPidFile(file);
      }
      outcomes.set(verdict.state, (outcomes.get(verdict.state) ?? 0) + 1);
      expect(['running', 'stale', 'absent']).toContain(verdict.state);
      if (verdict.state === 'running') {
        const { pid } = readRecord(file);
        await until(() => cmdline(pid) === `sleep ${MARK}11` || !alive(pid));
      } else {
        // Whatever the moment, what is left is either proven running or nothing at all.
        expect(ownSleeps()).toEqual([]);
      }
      const relaunch = await cli(['daemon', '--pidfile', file, '--', 'sleep', `${MARK}11`]);
      expect(relaunch.code).toBe(verdict.state === 'running' ? 1 : 0);
      await started(file);
      const stop = await cli(['stop', '--pidfile', file]);
      expect(stop.code).toBe(0);
      expect(ownSleeps()).toEqual([]);
      expect(fs.existsSync(file)).toBe(false);
    }
    expect([...outcomes.values()].reduce((a, b) => a + b, 0)).toBe(50);
  }, 240000);

  test('re-exec strategy: a program that never reaches daemonize() is ended after startTimeoutMs', async () => {
    const file = path.join(tmp, 'late.pid');
    const report = path.join(tmp, 'late.json');
    const mark = path.join(tmp, 'late.mark');
    const plan = JSON.stringify({ pidFile: file, report, mark, startTimeoutMs: 1500 });
    const launch = await runNode([path.join(FIXTURES, 'daemon-trust.js'), 'late', plan], {
      forkSafe: false,
    });
    expect(launch.code).not.toBe(0);
    expect(launch.stderr).toMatch(/did not reach daemonize\(\) within 1500 ms; it was ended/);
    const { pid, reached } = JSON.parse(fs.readFileSync(report, 'utf8')) as {
      pid: number;
      reached: boolean;
    };
    expect(reached).toBe(false);
    await until(() => !alive(pid));
    expect(fs.existsSync(file)).toBe(false);
  });
});
