// prefork's balancing of connections (src/prefork/balance.ts), in-process: the choice of the
// worker to hand a new connection to (handTo, pure), and two slots served by two servers of
// this one process (across processes: test/prefork.test.ts).
import { once } from 'events';
import * as net from 'net';
import { Balance, handTo } from '../src/prefork/balance';

function choose(me: number, loads: number[], closed: number[] = []): number {
  return handTo(
    me,
    (id) => loads[id],
    (id) => !closed.includes(id),
    loads.length,
  );
}

test('keeps the connection while no open worker serves fewer', () => {
  expect(choose(0, [0, 0, 0])).toBe(-1);
  expect(choose(1, [3, 3, 4])).toBe(-1);
  expect(choose(0, [1])).toBe(-1);
});

test('hands it to the open worker with the fewest, the first of equals', () => {
  expect(choose(0, [3, 2, 1, 1])).toBe(2);
  expect(choose(2, [5, 0, 1])).toBe(1);
});

test('never to a closed slot (starting, stopping, not balancing, gone)', () => {
  expect(choose(0, [4, 0, 2], [1])).toBe(2);
  expect(choose(0, [4, 0, 2], [1, 2])).toBe(-1);
});

describe('Balance.serve', () => {
  const sockets: net.Socket[] = [];
  const cleanups: (() => void)[] = [];
  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.destroy();
    for (const cleanup of cleanups.splice(0).reverse()) cleanup();
  });

  async function until(condition: () => boolean): Promise<void> {
    const deadline = Date.now() + 5000;
    while (!condition()) {
      if (Date.now() > deadline) throw new Error('timed out');
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  test('a connection its peer has ended stops counting, though the server keeps it open', async () => {
    const balance = new Balance();
    balance.prepare(2);
    cleanups.push(() => balance.close());
    const open = [{ ready: true, balancing: true, stopping: false }];
    balance.update(0, open);
    balance.update(1, open);
    // Slot 0 accepts; slot 1's server never listens and gets only what slot 0 hands it.
    const seen: net.Socket[][] = [[], []];
    const servers = [0, 1].map((id) => {
      const server = net.createServer({ allowHalfOpen: true });
      server.on('connection', (socket: net.Socket) => {
        sockets.push(socket);
        seen[id].push(socket);
      });
      return server;
    });
    await new Promise<void>((resolve) => servers[0].listen(0, '127.0.0.1', resolve));
    cleanups.push(() => servers[0].close());
    for (const id of [0, 1]) cleanups.push(balance.serve(id, servers[id]));
    const port = (servers[0].address() as net.AddressInfo).port;
    const connect = async (total: number) => {
      const client = net.connect(port, '127.0.0.1');
      sockets.push(client);
      await once(client, 'connect');
      await until(() => seen[0].length + seen[1].length === total);
      return client;
    };

    const first = await connect(1);
    expect(seen.map((s) => s.length)).toEqual([1, 0]); // equal loads: kept
    first.end(); // half-closed: the server keeps its side open
    await once(seen[0][0], 'end');
    await connect(2);
    expect(seen.map((s) => s.length)).toEqual([2, 0]); // the ended one no longer counts
    await connect(3);
    expect(seen.map((s) => s.length)).toEqual([2, 1]); // one live against none: handed over
  });
});
