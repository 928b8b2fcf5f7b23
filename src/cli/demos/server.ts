// The server demo: examples/echo-server.ts, the classic forking server, with three clients
// around it. Each connection is served by its own forked child; the demo shows them, ends the
// connections, checks that the server reaped every child, then stops the server.
import * as net from 'net';
import { DemoOutput, stateOf, until } from './context';
import { DemoSpec, ExampleRun } from './run';

const CLIENTS = 3;

export const serverDemo: DemoSpec = {
  name: 'server',
  summary: 'the forking server: a child per connection, each reaped',
  explain: [
    'The parent listens and accepts. For each connection it forks: the child serves that one',
    'connection (here: echoes lines, "q" ends) and exits; the parent closes its copy of the',
    'connection and goes back to accept(). Reaping each finished child keeps zombies away.',
  ],
  example: 'echo-server',
  args: async () => [String(await freePort())],
  drive: talkToServer,
};

interface Client {
  socket: net.Socket;
  /** The pid of the child serving this connection. */
  server: number;
  closed: Promise<void>;
}

async function talkToServer(run: ExampleRun, out: DemoOutput): Promise<void> {
  const port = Number(run.args[0]);
  const clients: Client[] = [];
  for (let i = 1; i <= CLIENTS; i++) clients.push(await connect(port, i, out));
  const children = clients.map((client) => client.server);
  out.line();
  out.table(
    `${CLIENTS} connections open — ps -o stat,ppid,pid,cmd:`,
    [run.pid, ...children],
    new Map([
      [run.pid, '← the server: accepts only'],
      ...children.map((pid): [number, string] => [pid, '← serves one connection']),
    ]),
  );
  out.line();
  out.say('client', 'sending "q" on each connection: each child closes it and exits');
  for (const client of clients) client.socket.write('q\n');
  await Promise.all(clients.map((client) => client.closed));
  if (!(await until(() => children.every((pid) => stateOf(pid) === null), 20000))) {
    throw new Error('the server did not reap every child');
  }
  out.table('afterwards:', [run.pid, ...children]);
  out.good(`${CLIENTS} connections, ${CLIENTS} children, every one reaped: no zombie`);
  out.say('demo', `kill -TERM ${run.pid}: the server stops`);
  process.kill(run.pid, 'SIGTERM');
}

/** Connects (retrying until the server listens), says hello, and reads who serves it. */
async function connect(port: number, n: number, out: DemoOutput): Promise<Client> {
  const deadline = Date.now() + 20000;
  for (;;) {
    try {
      return await hello(port, n, out);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ECONNREFUSED' || Date.now() > deadline)
        throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

function hello(port: number, n: number, out: DemoOutput): Promise<Client> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const closed = new Promise<void>((done) => socket.on('close', () => done()));
    let text = '';
    socket.setEncoding('utf8');
    socket.on('error', reject);
    socket.write(`hello ${n}\n`);
    socket.on('data', (chunk: string) => {
      text += chunk;
      const match = /^served by (\d+)\nhello \d+\n/.exec(text);
      if (match === null || text.length < match[0].length) return;
      socket.removeAllListeners('data');
      socket.on('error', () => socket.destroy());
      out.say('client', `sent "hello ${n}", got back "hello ${n}" (served by ${match[1]})`);
      resolve({ socket, server: Number(match[1]), closed });
    });
  });
}

/** A port nothing listens on now, for the server to take. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}
