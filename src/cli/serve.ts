// `posix-fork serve app.js`: a prefork server for a module that exports a request handler
// (function (req, res)) or a `serve({ listen, id, generation })` function.
import * as http from 'http';
import * as path from 'path';
import { daemonize, prefork } from '../index';
import type { ListenSpec, WorkerContext } from '../prefork';
import { MAX_WORKERS } from '../prefork/options';
import { CliError, USAGE_EXIT } from './output';
import { describeEnd } from '../status';

export interface ServeOptions {
  workers?: number;
  listen: string;
  pidfile?: string;
}

/** PORT, HOST:PORT, [IPv6]:PORT, or a unix socket path (anything with a slash). */
export function parseListen(text: string): ListenSpec {
  if (text.includes('/')) return { path: text };
  const match = /^(?:\[([^\]]+)\]:|([^:]+):)?(\d+)$/.exec(text);
  const port = match === null ? NaN : Number(match[3]);
  if (match === null || port > 65535) {
    throw new CliError(
      `invalid --listen '${text}': expected PORT, HOST:PORT or a socket path`,
      USAGE_EXIT,
    );
  }
  const host = match[1] ?? match[2];
  return host === undefined ? port : { port, host };
}

export function parseWorkers(text: string): number {
  const workers = Number(text);
  if (!/^\d+$/.test(text) || workers < 1 || workers > MAX_WORKERS) {
    throw new CliError(`invalid --workers '${text}': expected 1 to ${MAX_WORKERS}`, USAGE_EXIT);
  }
  return workers;
}

type Serve = (context: WorkerContext) => unknown;

function loadApp(file: string): Serve {
  let exported: unknown;
  try {
    exported = require(path.resolve(file));
  } catch (error) {
    if (
      (error as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND' &&
      String((error as Error).message).includes(path.resolve(file))
    ) {
      throw new CliError(`cannot find app '${file}'`, USAGE_EXIT);
    }
    throw error;
  }
  const module = exported as { serve?: unknown; default?: unknown };
  if (typeof module?.serve === 'function') return module.serve as Serve;
  const handler = typeof exported === 'function' ? exported : module?.default;
  if (typeof handler === 'function') {
    return ({ listen }) => http.createServer(handler as http.RequestListener).listen(listen);
  }
  throw new CliError(
    `app '${file}' exports neither a request handler nor a serve function`,
    USAGE_EXIT,
  );
}

/** Loads the app in this process (the master), then binds and forks the workers. */
export async function serve(
  file: string,
  options: ServeOptions,
  log: (line: string) => void,
): Promise<void> {
  const listen = parseListen(options.listen);
  const serveApp = loadApp(file);
  // The pidfile names the master; it stays in the foreground (a supervisor's child, or a terminal).
  if (options.pidfile !== undefined) {
    daemonize({
      pidFile: options.pidfile,
      detach: false,
      workingDirectory: process.cwd(),
      umask: process.umask(),
    });
  }
  const server = prefork({ listen, workers: options.workers, serve: serveApp });
  server.on('error', (error: Error) => log(error.message));
  server.on('exit', (worker, status) => {
    if (status.exitCode !== 0)
      log(`worker ${worker.id} (pid ${worker.pid}) ended by ${describeEnd(status)}`);
  });
  await server.ready;
  const address = server.address();
  const where = typeof address === 'string' ? address : `${address?.address}:${address?.port}`;
  log(
    `${server.workers.length} workers on ${where} (master pid ${process.pid}); ` +
      'SIGHUP reload, SIGTTIN/SIGTTOU +1/-1 worker, SIGUSR2 re-exec, SIGTERM stop',
  );
}
