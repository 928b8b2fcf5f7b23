// The classic forking server: the parent accepts; each connection gets its own forked child,
// which serves it and exits; the parent closes its copy of the connection and goes on
// accepting. A Reaper collects each finished child, so `ps` never shows a zombie.
//
// The child echoes each line it reads, and closes the connection on a line "q". Its first
// line names the pid that serves the connection.
//
//   node dist/examples/echo-server.js [port]    (default 7000, 127.0.0.1)
//   printf 'hello\nq\n' | nc 127.0.0.1 7000
import * as net from 'net';
import { Reaper, ensureForkSafe, fork } from 'posix-fork';

ensureForkSafe(); // see examples/fork.ts

const port = Number(process.argv[2] ?? 7000);

const reaper = new Reaper().start();
reaper.on('exit', (status) => {
  console.log(`reaped ${status.pid} (exit code ${status.exitCode})`);
});

const server = net.createServer((socket) => {
  const pid = fork();
  if (pid === 0) {
    serveConnection(socket);
    return;
  }
  const client = `${socket.remoteAddress}:${socket.remotePort}`;
  // The parent's copy of the descriptor: destroy() only closes it (no shutdown, which would
  // end the connection for the child too).
  socket.destroy();
  console.log(`connection from ${client} served by child ${pid}`);
});

function serveConnection(socket: net.Socket): void {
  // This child only serves this one connection: it stops listening and reaping at once.
  server.close();
  reaper.stop();
  socket.setEncoding('utf8');
  socket.write(`served by ${process.pid}\n`);
  let pending = '';
  socket.on('data', (chunk: string) => {
    pending += chunk;
    let newline: number;
    while ((newline = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, newline).replace(/\r$/, '');
      pending = pending.slice(newline + 1);
      if (line === 'q') {
        socket.end('bye\n');
        return;
      }
      socket.write(`${line}\n`);
    }
  });
  socket.on('error', () => socket.destroy());
  // Nothing else is left in this child's event loop once the connection closes: it exits 0.
}

server.listen(port, '127.0.0.1', () => {
  console.log(`listening on 127.0.0.1:${(server.address() as net.AddressInfo).port}`);
});

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    server.close();
    reaper.stop();
    process.exit(0);
  });
}
