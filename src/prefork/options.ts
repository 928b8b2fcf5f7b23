// prefork() options: checked and normalised before anything binds or forks (TypeError and
// RangeError with Node's codes; own properties only), and the respawn backoff.
import * as os from 'os';

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
const MAX_MS = 2147483647;
const OPTIONS = ['listen', 'serve', 'workers', 'timeoutMs', 'gracefulTimeoutMs', 'signals'];

function describe(value: unknown): string {
  if (value === null || value === undefined) return `Received ${String(value)}`;
  if (typeof value === 'function') return `Received function ${value.name || '<anonymous>'}`;
  if (typeof value === 'object') {
    const name = Array.isArray(value) ? 'Array' : (value.constructor?.name ?? 'Object');
    return `Received an instance of ${name}`;
  }
  return `Received type ${typeof value} (${String(value)})`;
}

function fail(Kind: TypeErrorConstructor | RangeErrorConstructor, code: string, message: string): never {
  const error = new Kind(message);
  (error as NodeJS.ErrnoException).code = code;
  throw error;
}

function typeError(name: string, expected: string, value: unknown): never {
  return fail(TypeError, 'ERR_INVALID_ARG_TYPE', `The "${name}" property must be ${expected}. ${describe(value)}`);
}

function integer(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number') typeError(name, 'of type number', value);
  if (!Number.isInteger(value) || value < min || value > max) {
    fail(RangeError, 'ERR_OUT_OF_RANGE', `The value of "${name}" is out of range. ` +
      `It must be an integer >= ${min} and <= ${max}. Received ${String(value)}`);
  }
  return value;
}

/** The own properties of a plain object, refusing unknown ones. */
function ownProperties(name: string, value: unknown, allowed: readonly string[]): Record<string, unknown> {
  const plain = typeof value === 'object' && value !== null &&
    [Object.prototype, null].includes(Object.getPrototypeOf(value));
  if (!plain) typeError(name, 'a plain object', value);
  const own: Record<string, unknown> = Object.create(null);
  for (const key of Reflect.ownKeys(value as object)) {
    if (typeof key !== 'string' || !allowed.includes(key)) {
      fail(TypeError, 'ERR_INVALID_ARG_VALUE',
        `The "${name}" argument has an unknown property ${String(key)}; allowed: ${allowed.join(', ')}`);
    }
    own[key] = (value as Record<string, unknown>)[key];
  }
  return own;
}

function backlogOf(own: Record<string, unknown>): number | undefined {
  return own.backlog === undefined ? undefined : integer('listen.backlog', own.backlog, 0, MAX_MS);
}

function checkPath(path: string): string {
  if (path === '' || path.includes('\0')) {
    fail(TypeError, 'ERR_INVALID_ARG_VALUE', 'The "listen" path must be a non-empty string without NUL');
  }
  return path;
}

function normaliseListen(value: unknown): Listen {
  if (typeof value === 'number') {
    return { kind: 'tcp', port: integer('listen', value, 0, 65535), host: undefined, backlog: undefined };
  }
  if (typeof value === 'string') return { kind: 'path', path: checkPath(value), backlog: undefined };
  const own = ownProperties('listen', value, ['port', 'host', 'path', 'fd', 'backlog']);
  const given = ['port', 'path', 'fd'].filter((key) => own[key] !== undefined);
  if (given.length > 1) {
    fail(TypeError, 'ERR_INVALID_ARG_VALUE', `The "listen" option takes one of port, path or fd; received ${given.join(', ')}`);
  }
  if (own.fd !== undefined) {
    if (own.host !== undefined || own.backlog !== undefined) {
      fail(TypeError, 'ERR_INVALID_ARG_VALUE', 'The "listen" option with fd takes no host or backlog');
    }
    return { kind: 'fd', fd: integer('listen.fd', own.fd, 0, MAX_MS) };
  }
  if (own.path !== undefined) {
    if (typeof own.path !== 'string') typeError('listen.path', 'of type string', own.path);
    if (own.host !== undefined) fail(TypeError, 'ERR_INVALID_ARG_VALUE', 'The "listen" option with path takes no host');
    return { kind: 'path', path: checkPath(own.path), backlog: backlogOf(own) };
  }
  if (own.host !== undefined && typeof own.host !== 'string') typeError('listen.host', 'of type string', own.host);
  return {
    kind: 'tcp',
    port: own.port === undefined ? 0 : integer('listen.port', own.port, 0, 65535),
    host: own.host as string | undefined,
    backlog: backlogOf(own),
  };
}

export function normaliseOptions(options: unknown): Normalised {
  const own = ownProperties('options', options, OPTIONS);
  if (own.listen === undefined) typeError('options.listen', 'a port, a path, or an object', undefined);
  const listen = normaliseListen(own.listen);
  if (typeof own.serve !== 'function') typeError('options.serve', 'of type function', own.serve);
  const parallelism = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  const workers = own.workers === undefined ? Math.max(1, Math.min(parallelism, MAX_WORKERS))
    : integer('options.workers', own.workers, 1, MAX_WORKERS);
  const timeoutMs = own.timeoutMs === undefined ? 30000 : integer('options.timeoutMs', own.timeoutMs, 0, MAX_MS);
  const gracefulTimeoutMs = own.gracefulTimeoutMs === undefined ? 10000
    : integer('options.gracefulTimeoutMs', own.gracefulTimeoutMs, 0, MAX_MS);
  if (own.signals !== undefined && typeof own.signals !== 'boolean') {
    typeError('options.signals', 'of type boolean', own.signals);
  }
  return {
    listen,
    serve: own.serve as Normalised['serve'],
    workers,
    timeoutMs,
    gracefulTimeoutMs,
    signals: own.signals !== false,
  };
}

/** A worker that dies within this long of its start counts as a failed start. */
export const QUICK_DEATH_MS = 1000;
/** Failed starts in a row that make a crash loop ('error' event). */
export const CRASH_LOOP_FAILURES = 5;
const MAX_BACKOFF_MS = 5000;

/**
 * How long to wait before replacing a worker after `failures` failed starts in a row: the
 * first replacement is immediate (a crash is replaced at once), then 100 ms doubling up to 5 s,
 * so a worker that cannot start does not keep the machine busy forking.
 */
export function respawnDelay(failures: number): number {
  if (failures <= 1) return 0;
  return Math.min(MAX_BACKOFF_MS, 100 * 2 ** (failures - 2));
}

/** How often a worker sends its heartbeat (and the master checks them) for `timeoutMs`. */
export function heartbeatInterval(timeoutMs: number): number {
  return Math.max(20, Math.min(1000, Math.floor(timeoutMs / 4)));
}
