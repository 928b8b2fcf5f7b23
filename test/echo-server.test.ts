// examples/echo-server.ts, the classic forking server: a child per connection, each reaped.
import * as path from 'path';
import { ROOT, procState, runNode } from './helpers';
import { childrenOf, killStarted, startNode, talk } from './server-helpers';

const EXAMPLE = path.join(ROOT, 'dist', 'examples', 'echo-server.js');

afterAll(() => {
  killStarted();
});

test('50 clients, some at once: every line echoed, each by its own child, no zombie left', async () => {
  const server = startNode([EXAMPLE, '0']);
  const port = Number((await server.waitFor(/listening on 127\.0\.0\.1:(\d+)/))[1]);

  const sessions: Array<{ lines: string[]; reply: string[] }> = [];
  const session = async (n: number) => {
    const lines = [`hello ${n}`, `line two of ${n}`, 'q'];
    sessions.push({ lines, reply: await talk(port, lines) });
  };
  // 10 one after another, then 4 waves of 10 at once.
  for (let n = 0; n < 10; n++) await session(n);
  for (let wave = 1; wave <= 4; wave++) {
    await Promise.all(Array.from({ length: 10 }, (_, i) => session(wave * 10 + i)));
  }

  expect(sessions).toHaveLength(50);
  const pids = new Set<number>();
  for (const { lines, reply } of sessions) {
    const greeting = reply[0].match(/^served by (\d+)$/);
    expect(greeting).not.toBeNull();
    pids.add(Number(greeting?.[1]));
    expect(reply.slice(1)).toEqual([lines[0], lines[1], 'bye']);
  }
  expect(pids.size).toBe(50);
  expect(pids.has(server.pid)).toBe(false);

  // Every child was reaped: the server has no child left, zombie or not.
  const reaped = () => server.output().match(/^reaped \d+ \(exit code 0\)$/gm) ?? [];
  const deadline = Date.now() + 20000;
  while ((childrenOf(server.pid).length > 0 || reaped().length < 50) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
  }
  expect(childrenOf(server.pid)).toEqual([]);
  expect(reaped()).toHaveLength(50);

  server.child.kill('SIGTERM');
  expect(await server.exited).toEqual({ code: 0, signal: null });
});

test('posix-fork demo server: three connections, three children, all reaped', async () => {
  const result = await runNode(
    [path.join(ROOT, 'dist', 'src', 'cli', 'index.js'), 'demo', 'server'],
    { timeoutMs: 60000 },
  );
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  const served = [...result.stdout.matchAll(/got back "hello \d" \(served by (\d+)\)/g)].map((m) =>
    Number(m[1]),
  );
  expect(new Set(served).size).toBe(3);
  for (const pid of served) expect(result.stdout).toContain(`reaped ${pid} (exit code 0)`);
  expect(result.stdout).toMatch(/every one reaped: no zombie/);
  expect(served.filter((pid) => procState(pid) !== null)).toEqual([]);
});
