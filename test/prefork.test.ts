// prefork(): real masters and workers (test/fixtures/prefork-app.js), checked through the OS
// and through the port. Tests check behaviour, never timings; each kills what it started.
import * as fs from 'fs';
import * as http from 'http';
import * as path from 'path';
import { FIXTURES } from './helpers';
import {
  RunningNode,
  alive,
  childrenOf,
  get,
  groupMembers,
  killStarted,
  sleep,
  startNode,
} from './server-helpers';

const APP = path.join(FIXTURES, 'prefork-app.js');

afterEach(() => {
  killStarted();
});

interface Started {
  master: RunningNode;
  port: number;
  workers: () => Array<{ id: number; pid: number; generation: number }>;
}

async function startApp(options: Record<string, unknown> = {}): Promise<Started> {
  const master = startNode([APP, JSON.stringify(options)]);
  const [, port] = await master.waitFor(/^ready (\d+) /m, 60000);
  // The live workers, from the event lines: 'worker' adds, 'exit' removes.
  const workers = () => {
    const live = new Map<number, { id: number; pid: number; generation: number }>();
    for (const [, kind, id, pid, generation] of master
      .output()
      .matchAll(/^(worker|exit) (\d+) (\d+) (\S+)$/gm)) {
      if (kind === 'worker')
        live.set(Number(pid), { id: Number(id), pid: Number(pid), generation: Number(generation) });
      else live.delete(Number(pid));
    }
    return [...live.values()];
  };
  return { master, port: Number(port), workers };
}

/** The sockets or pipes `pid` holds, by inode ("socket:[N]", "pipe:[N]"). */
function heldBy(pid: number, kind: 'socket' | 'pipe'): Set<string> {
  const held = new Set<string>();
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      const target = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
      if (target.startsWith(`${kind}:`)) held.add(target);
    } catch {
      // Closed meanwhile.
    }
  }
  return held;
}

async function waitUntil(predicate: () => boolean, what: string, timeoutMs = 30000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`not in time: ${what}`);
    await sleep(25);
  }
}

// Requests one after another (a fresh connection each) until stop(): every answer, and every error.
function hammer(port: number) {
  const answers: Array<{ pid: number; ppid: number; generation: number }> = [];
  const errors: Error[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        const { status, body } = await get(port);
        if (status !== 200) throw new Error(`status ${status}`);
        answers.push(JSON.parse(body));
      } catch (error) {
        errors.push(error as Error);
      }
    }
  })();
  return {
    answers,
    errors,
    async stop() {
      running = false;
      await loop;
    },
  };
}

test('N workers accept on the one socket the master bound; the master never answers', async () => {
  const { master, port, workers } = await startApp({ workers: 3 });
  const pids = workers().map((w) => w.pid);
  expect(
    workers()
      .map((w) => w.id)
      .sort(),
  ).toEqual([0, 1, 2]);
  for (const pid of pids) expect(childrenOf(master.pid).map((c) => c.pid)).toContain(pid);
  // The same socket (one inode) in the master and in every worker.
  const workerSockets = pids.map((pid) => heldBy(pid, 'socket'));
  const shared = [...heldBy(master.pid, 'socket')].filter((s) =>
    workerSockets.every((held) => held.has(s)),
  );
  expect(shared.length).toBeGreaterThanOrEqual(1);
  // Forked back to back, each worker holds its own channel to the master and no other's:
  // beyond the pipes all of them inherited, one pipe in common with the master, its own.
  const masterPipes = heldBy(master.pid, 'pipe');
  const workerPipes = pids.map((pid) => heldBy(pid, 'pipe'));
  const inherited = [...workerPipes[0]].filter((p) => workerPipes.every((held) => held.has(p)));
  const channels = workerPipes.map((held) =>
    [...held].filter((p) => !inherited.includes(p) && masterPipes.has(p)),
  );
  for (const own of channels) expect(own).toHaveLength(1);
  expect(new Set(channels.flat()).size).toBe(pids.length);
  const seen = new Set<number>();
  for (let i = 0; i < 300 && seen.size < 2; i++) {
    const { body } = await get(port);
    const answer = JSON.parse(body);
    expect(pids).toContain(answer.pid);
    expect(answer.ppid).toBe(master.pid);
    seen.add(answer.pid);
  }
  expect(seen.size).toBeGreaterThanOrEqual(2);
});

test('keep-alive connections opened at once are spread evenly over the workers', async () => {
  const { port, workers } = await startApp({ workers: 4 });
  // 32 clients, one connection each, all opened at once: the kernel would hand most of them to
  // whichever workers run first; the workers hand the surplus over.
  const agents = Array.from(
    { length: 32 },
    () => new http.Agent({ keepAlive: true, maxSockets: 1 }),
  );
  const served = new Map<number, number>();
  try {
    await Promise.all(
      agents.map(async (agent) => {
        for (let i = 0; i < 5; i++) {
          const { status, body } = await get(port, '/', 30000, agent);
          expect(status).toBe(200);
          const { pid } = JSON.parse(body) as { pid: number };
          served.set(pid, (served.get(pid) ?? 0) + 1);
        }
      }),
    );
  } finally {
    for (const agent of agents) agent.destroy();
  }
  expect([...served.keys()].sort()).toEqual(
    workers()
      .map((w) => w.pid)
      .sort(),
  );
  const counts = [...served.values()];
  expect(counts.reduce((a, b) => a + b, 0)).toBe(160);
  expect(Math.max(...counts) / Math.min(...counts)).toBeLessThanOrEqual(1.5);
});

test('a killed worker is replaced in its slot and reaped; the port keeps answering', async () => {
  const { master, port, workers } = await startApp({ workers: 2 });
  const victim = workers().find((w) => w.id === 1) as { pid: number };
  process.kill(victim.pid, 'SIGKILL');
  await waitUntil(
    () => workers().some((w) => w.id === 1 && w.pid !== victim.pid),
    'a new worker 1',
  );
  expect(master.output()).toMatch(new RegExp(`^exit 1 ${victim.pid} SIGKILL$`, 'm'));
  expect(alive(victim.pid)).toBe(false);
  expect(childrenOf(master.pid).filter((c) => c.state === 'Z')).toEqual([]);
  expect((await get(port)).status).toBe(200);
});

test('a worker that cannot start: backoff, an error event for the crash loop, the master stays', async () => {
  const { master } = { master: startNode([APP, JSON.stringify({ workers: 1, crash: true })]) };
  await master.waitFor(/^error ERR_PREFORK_CRASH_LOOP$/m, 60000);
  expect(alive(master.pid)).toBe(true);
  master.child.kill('SIGTERM');
  expect(await master.exited).toEqual({ code: 0, signal: null });
  await waitUntil(() => groupMembers(master.pid).length === 0, 'nothing left in the group');
});

test('SIGHUP: a rolling reload to the next generation without one refused connection', async () => {
  const { master, port, workers } = await startApp({ workers: 2 });
  const old = workers().map((w) => w.pid);
  const load = hammer(port);
  await waitUntil(() => load.answers.length >= 5, 'answers before the reload');
  process.kill(master.pid, 'SIGHUP');
  await waitUntil(
    () => workers().length === 2 && workers().every((w) => w.generation === 1),
    'generation 1',
  );
  await waitUntil(() => old.every((pid) => !alive(pid)), 'the old workers gone');
  const before = load.answers.length;
  await waitUntil(() => load.answers.length >= before + 5, 'answers after the reload');
  await load.stop();
  expect(load.errors).toEqual([]);
  expect(load.answers.some((a) => a.generation === 0)).toBe(true);
  expect(load.answers.some((a) => a.generation === 1)).toBe(true);
  expect(master.output()).not.toMatch(/^error /m);
});

test('SIGTTIN adds a worker, SIGTTOU removes one', async () => {
  const { master, workers } = await startApp({ workers: 2 });
  process.kill(master.pid, 'SIGTTIN');
  await waitUntil(() => workers().some((w) => w.id === 2), 'worker 2');
  await waitUntil(() => childrenOf(master.pid).length === 3, 'three children');
  const third = workers().find((w) => w.id === 2) as { pid: number };
  process.kill(master.pid, 'SIGTTOU');
  await master.waitFor(new RegExp(`^exit 2 ${third.pid} 0$`, 'm'));
  await waitUntil(() => childrenOf(master.pid).length === 2, 'two children');
  expect(
    workers()
      .map((w) => w.id)
      .sort(),
  ).toEqual([0, 1]);
});

test('SIGTERM: in-flight requests finish, then master and workers exit; nothing is left', async () => {
  const { master, port, workers } = await startApp({ workers: 2 });
  const pids = workers().map((w) => w.pid);
  const slow = get(port, '/slow?ms=1500');
  await sleep(300);
  process.kill(master.pid, 'SIGTERM');
  const answer = await slow;
  expect(answer.status).toBe(200);
  expect(await master.exited).toEqual({ code: 0, signal: null });
  expect(master.output()).toMatch(/^exit \d+ \d+ 0$/m);
  await waitUntil(() => groupMembers(master.pid).length === 0, 'nothing left in the group');
  for (const pid of pids) expect(alive(pid)).toBe(false);
  await expect(get(port)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
});

test('SIGKILL of the master takes every worker with it', async () => {
  const { master, workers } = await startApp({ workers: 3 });
  const pids = workers().map((w) => w.pid);
  process.kill(master.pid, 'SIGKILL');
  await waitUntil(() => pids.every((pid) => !alive(pid)), 'every worker gone');
});

test('a worker whose event loop is stuck past timeoutMs is killed and replaced', async () => {
  const { master, port, workers } = await startApp({ workers: 1, timeoutMs: 2000 });
  const [stuck] = workers();
  get(port, '/hang', 120000).catch(() => undefined);
  await master.waitFor(new RegExp(`^exit 0 ${stuck.pid} SIGKILL$`, 'm'), 60000);
  await waitUntil(() => workers().some((w) => w.id === 0 && w.pid !== stuck.pid), 'a new worker 0');
  expect((await get(port)).status).toBe(200);
});

test('SIGUSR2: a new master adopts the socket, the old one leaves, the port never stops answering', async () => {
  const { master, port } = await startApp({ workers: 2 });
  const load = hammer(port);
  await waitUntil(() => load.answers.length >= 5, 'answers before the hand-over');
  process.kill(master.pid, 'SIGUSR2');
  const [, newPort, newMaster] = await master.waitFor(
    new RegExp(`^ready (\\d+) (?!${master.pid} )(\\d+) `, 'm'),
    60000,
  );
  expect(Number(newPort)).toBe(port);
  expect(await master.exited).toEqual({ code: 0, signal: null });
  await waitUntil(
    () => load.answers.some((a) => a.ppid === Number(newMaster)),
    "answers from the new master's workers",
  );
  await load.stop();
  expect(load.errors).toEqual([]);
  expect(alive(Number(newMaster))).toBe(true);
  process.kill(Number(newMaster), 'SIGTERM');
  await waitUntil(() => !alive(Number(newMaster)), 'the new master gone');
});

test('posix-fork serve app.js: the app loaded once in the master, the pidfile names the master', async () => {
  const dir = fs.mkdtempSync(path.join(require('os').tmpdir(), 'posix-fork-serve-'));
  const pidfile = path.join(dir, 'serve.pid');
  const cli = path.join(__dirname, '..', 'dist', 'src', 'cli', 'index.js');
  const master = startNode([
    cli,
    'serve',
    path.join(FIXTURES, 'serve-app.js'),
    '--workers',
    '2',
    '--listen',
    '127.0.0.1:0',
    '--pidfile',
    pidfile,
  ]);
  const [, port, masterPid] = await master.waitFor(
    /2 workers on 127\.0\.0\.1:(\d+) \(master pid (\d+)\)/,
    60000,
  );
  expect(Number(masterPid)).toBe(master.pid);
  expect(fs.readFileSync(pidfile, 'utf8').split('\n')[0]).toBe(String(master.pid));
  const answer = JSON.parse((await get(Number(port))).body);
  expect(answer).toMatchObject({ ppid: master.pid, loadedIn: master.pid });
  expect(answer.pid).not.toBe(master.pid);
  process.kill(master.pid, 'SIGTERM');
  expect(await master.exited).toEqual({ code: 0, signal: null });
  await waitUntil(() => groupMembers(master.pid).length === 0, 'nothing left in the group');
  expect(fs.existsSync(pidfile)).toBe(false);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('posix-fork serve: usage errors before anything binds', async () => {
  const cli = path.join(__dirname, '..', 'dist', 'src', 'cli', 'index.js');
  for (const args of [
    ['--listen', 'nowhere:x'],
    ['--workers', '0'],
  ]) {
    const run = startNode([cli, 'serve', path.join(FIXTURES, 'serve-app.js'), ...args]);
    expect(await run.exited).toEqual({ code: 2, signal: null });
    expect(run.output()).toMatch(/^posix-fork serve: invalid --(listen|workers)/m);
  }
});

test('a unix socket path: bound once, served by the workers, removed by a graceful stop', async () => {
  const dir = fs.mkdtempSync(path.join(require('os').tmpdir(), 'posix-fork-prefork-'));
  const socketPath = path.join(dir, 'app.sock');
  const master = startNode([APP, JSON.stringify({ workers: 2, path: socketPath })]);
  await master.waitFor(/^ready \S+ /m, 60000);
  expect(fs.statSync(socketPath).isSocket()).toBe(true);
  const body = await new Promise<string>((resolve, reject) => {
    require('http')
      .get({ socketPath, path: '/', agent: false }, (res: import('http').IncomingMessage) => {
        let text = '';
        res
          .setEncoding('utf8')
          .on('data', (chunk: string) => (text += chunk))
          .on('end', () => resolve(text));
      })
      .on('error', reject);
  });
  expect(JSON.parse(body).ppid).toBe(master.pid);
  process.kill(master.pid, 'SIGTERM');
  expect(await master.exited).toEqual({ code: 0, signal: null });
  expect(fs.existsSync(socketPath)).toBe(false);
  expect(fs.readdirSync(dir)).toEqual([]);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('SIGTERM while the workers are still starting: they are stopped, the master exits 0', async () => {
  const master = startNode([APP, JSON.stringify({ workers: 2, startMs: 60000 })]);
  await waitUntil(() => childrenOf(master.pid).length === 2, 'two workers forked', 60000);
  process.kill(master.pid, 'SIGTERM');
  expect(await master.exited).toEqual({ code: 0, signal: null });
  expect(master.output()).not.toMatch(/^ready /m);
  await waitUntil(() => groupMembers(master.pid).length === 0, 'nothing left in the group');
});
