// prefork() options: checked and normalised before anything binds or forks (TypeError and
// RangeError with Node's codes; own properties only), and the heartbeat period they imply.
import * as os from 'os';
import {
  MAX_INT32,
  checkBoolean,
  checkFunction,
  checkInteger,
  checkPath,
  checkString,
  fail,
  invalidType,
  isPlainObject,
  readOptions,
} from '../args';

/** Where the master binds: a port, `{ port, host }`, a unix socket `{ path }`, or an open `{ fd }`. */
export type ListenSpec =
  | number
  | string
  | { port?: number; host?: string; backlog?: number }
  | { path: string; backlog?: number }
  | { fd: number };

/** What a worker's `serve()` receives. */
export interface WorkerContext {
  /** What `server.listen()` takes to accept on the master's socket: `{ fd }`. */
  listen: { fd: number };
  /** The worker's slot, 0 … workers-1; a replacement keeps the slot of the worker it replaces. */
  id: number;
  /** 0 for the first workers; each reload() starts the next generation. */
  generation: number;
}

export interface PreforkOptions {
  listen: ListenSpec;
  /** Runs in each forked worker; may return the server (or a promise of it) to close gracefully. */
  serve: (context: WorkerContext) => unknown;
  /** How many workers (1 … 1024); default os.availableParallelism(). */
  workers?: number;
  /** A worker silent (no heartbeat, or not ready) this long is killed and replaced; 0: never. */
  timeoutMs?: number;
  /** How long a stopping worker may finish its requests before SIGKILL. */
  gracefulTimeoutMs?: number;
  /** Handle SIGHUP, SIGTTIN, SIGTTOU, SIGTERM, SIGINT and SIGUSR2 in the master (default true). */
  signals?: boolean;
}

export type Listen =
  | { kind: 'tcp'; port: number; host: string | undefined; backlog: number | undefined }
  | { kind: 'path'; path: string; backlog: number | undefined }
  | { kind: 'fd'; fd: number };

export interface Normalised {
  listen: Listen;
  serve: (context: WorkerContext) => unknown;
  workers: number;
  timeoutMs: number;
  gracefulTimeoutMs: number;
  signals: boolean;
}

export const MAX_WORKERS = 1024;
const OPTIONS = ['listen', 'serve', 'workers', 'timeoutMs', 'gracefulTimeoutMs', 'signals'];
const LISTEN_KEYS = ['port', 'host', 'path', 'fd', 'backlog'];

function backlogOf(own: Record<string, unknown>): number | undefined {
  return own.backlog === undefined
    ? undefined
    : checkInteger('options.listen.backlog', own.backlog, 0, MAX_INT32);
}

function refuseListen(message: string): never {
  return fail(TypeError, 'ERR_INVALID_ARG_VALUE', `The "options.listen" property ${message}`);
}

function normaliseListen(value: unknown): Listen {
  if (typeof value === 'number') {
    return {
      kind: 'tcp',
      port: checkInteger('options.listen', value, 0, 65535),
      host: undefined,
      backlog: undefined,
    };
  }
  if (typeof value === 'string')
    return { kind: 'path', path: checkPath('options.listen', value), backlog: undefined };
  if (!isPlainObject(value)) invalidType('options.listen', 'a port, a path, or an object', value);
  const own = readOptions(value, LISTEN_KEYS, 'options.listen');
  const given = ['port', 'path', 'fd'].filter((key) => own[key] !== undefined);
  if (given.length > 1) refuseListen(`takes one of port, path or fd; received ${given.join(', ')}`);
  if (own.fd !== undefined) {
    if (own.host !== undefined || own.backlog !== undefined)
      refuseListen('with fd takes no host or backlog');
    return { kind: 'fd', fd: checkInteger('options.listen.fd', own.fd, 0, MAX_INT32) };
  }
  if (own.path !== undefined) {
    if (own.host !== undefined) refuseListen('with path takes no host');
    return {
      kind: 'path',
      path: checkPath('options.listen.path', own.path),
      backlog: backlogOf(own),
    };
  }
  return {
    kind: 'tcp',
    port: own.port === undefined ? 0 : checkInteger('options.listen.port', own.port, 0, 65535),
    host: own.host === undefined ? undefined : checkString('options.listen.host', own.host),
    backlog: backlogOf(own),
  };
}

/** The settings prefork() works from: `options` checked, defaults filled in. */
export function normaliseOptions(options: unknown): Normalised {
  if (!isPlainObject(options)) invalidType('options', 'a plain object', options);
  const own = readOptions(options, OPTIONS);
  if (own.listen === undefined)
    invalidType('options.listen', 'a port, a path, or an object', undefined);
  const listen = normaliseListen(own.listen);
  const serve = checkFunction<Normalised['serve']>('options.serve', own.serve);
  const parallelism =
    typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  const workers =
    own.workers === undefined
      ? Math.max(1, Math.min(parallelism, MAX_WORKERS))
      : checkInteger('options.workers', own.workers, 1, MAX_WORKERS);
  const timeoutMs =
    own.timeoutMs === undefined
      ? 30000
      : checkInteger('options.timeoutMs', own.timeoutMs, 0, MAX_INT32);
  const gracefulTimeoutMs =
    own.gracefulTimeoutMs === undefined
      ? 10000
      : checkInteger('options.gracefulTimeoutMs', own.gracefulTimeoutMs, 0, MAX_INT32);
  const signals = own.signals === undefined ? true : checkBoolean('options.signals', own.signals);
  return { listen, serve, workers, timeoutMs, gracefulTimeoutMs, signals };
}

/** How often a worker sends its heartbeat (and the master checks them) for `timeoutMs`. */
export function heartbeatInterval(timeoutMs: number): number {
  return Math.max(20, Math.min(1000, Math.floor(timeoutMs / 4)));
}
