// The classic forking server (examples/echo-server.ts), live: the parent accepts, each
// connection gets its own forked child, the parent closes its copy and goes on accepting,
// and a Reaper collects every finished child.
import * as net from 'net';
import { Reaper, fork } from '../../index';
import { DemoOutput, nameProcess, until } from './context';

const CLIENTS = 3;

export async function serverDemo(out: DemoOutput): Promise<void> {
  out.title('server', 'the forking server: one child per connection');
  out.explain(
    'The parent listens and accepts. For each connection it forks: the child serves that one',
    'connection (here: echoes lines, "q" ends) and exits; the parent closes its copy of the',
    'connection and goes back to accept(). Reaping each finished child keeps zombies away.',
  );
  nameProcess('server', 'parent');
  const parent = process.pid;
  const reaper = new Reaper().start();
  const reaped = new Set<number>();
  reaper.on('exit', (status) => {
    reaped.add(status.pid);
    out.say('parent', `reaped child ${status.pid} (exit code ${status.exitCode})`);
  });
  const servers: number[] = [];
  const server = net.createServer((socket) => {
    const pid = fork();
    if (pid === 0) {
      serveOne(server, reaper, socket, out);
      return;
    }
    socket.destroy(); // the parent's copy only: the child keeps the connection
    servers.push(pid);
    out.say('parent', `accepted a connection, forked child ${pid} to serve it, back to accept()`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  out.say('parent', `listening on 127.0.0.1:${port}`);

  let clientsServed = false;
  process.on('SIGUSR1', () => (clientsServed = true));
  const client = fork();
  if (client === 0) {
    nameProcess('server', 'client');
    server.close();
    reaper.stop();
    runClients(port, parent, out);
    return;
  }
  if (!(await until(() => clientsServed, 20000))) throw new Error('the clients got no answer');
  out.line();
  out.table(`${CLIENTS} connections open — ps -o stat,ppid,pid,cmd:`, [parent, client, ...servers], new Map([
    [parent, '← the server: accepts only'],
    [client, '← the clients'],
    ...servers.map((pid): [number, string] => [pid, '← serves one connection']),
  ]));
  out.line();
  out.say('parent', 'the clients send "q": each child closes its connection and exits');
  process.kill(client, 'SIGUSR1');
  if (!(await until(() => [client, ...servers].every((pid) => reaped.has(pid)), 20000))) {
    throw new Error('a child was not reaped');
  }
  server.close();
  reaper.stop();
  out.line();
  out.table('afterwards:', [parent, ...servers]);
  out.good(`${servers.length} connections, ${servers.length} children, every one reaped: no zombie`);
}

function serveOne(server: net.Server, reaper: Reaper, socket: net.Socket, out: DemoOutput): void {
  nameProcess('server', 'connection');
  server.close();
  reaper.stop();
  out.say('child', `I am ${process.pid}: serving the client at port ${socket.remotePort}`);
  socket.setEncoding('utf8');
  socket.write(`served by ${process.pid}\n`);
  let pending = '';
  socket.on('data', (chunk: string) => {
    pending += chunk;
    let newline: number;
    while ((newline = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      if (line === 'q') {
        out.say('child', `${process.pid}: "q" — closing the connection and exiting`);
        socket.end();
        return;
      }
      socket.write(`${line}\n`);
    }
  });
  socket.on('error', () => socket.destroy());
  // The parent's demo code is still pending in this copy of it: end here, not there.
  socket.on('close', () => process.exit(0));
}

function runClients(port: number, parent: number, out: DemoOutput): void {
  let answered = 0;
  let closed = 0;
  const sockets = Array.from({ length: CLIENTS }, (_, i) => {
    const socket = net.connect(port, '127.0.0.1');
    let text = '';
    let done = false;
    socket.setEncoding('utf8');
    socket.write(`hello ${i + 1}\n`);
    socket.on('data', (chunk: string) => {
      text += chunk;
      if (!done && text.includes(`hello ${i + 1}\n`)) {
        done = true;
        const lines = text.trim().split('\n');
        out.say('client', `sent "hello ${i + 1}", got back "${lines[1]}" (${lines[0]})`);
        if (++answered === CLIENTS) process.kill(parent, 'SIGUSR1');
      }
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      if (++closed === CLIENTS) process.exit(0);
    });
    return socket;
  });
  process.removeAllListeners('SIGUSR1');
  process.on('SIGUSR1', () => {
    for (const socket of sockets) socket.write('q\n');
  });
}
