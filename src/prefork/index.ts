// prefork(): N forked workers accepting on one listening socket that the master binds once.
import { checkArity } from '../args';
import { normaliseOptions, PreforkOptions } from './options';
import { PreforkServer } from './master';

export type { ListenSpec, PreforkOptions, WorkerContext } from './options';
export type { WorkerInfo } from './master';
export { PreforkServer };

/**
 * Binds `options.listen` once in this process (the master), then forks `options.workers`
 * workers that each run `options.serve({ listen, id, generation })` and accept on that socket.
 * The workers share the master's warmed heap copy-on-write. Bad options throw TypeError or
 * RangeError before anything binds; a bind failure (EADDRINUSE…) rejects `ready`.
 */
export function prefork(options: PreforkOptions): PreforkServer {
  checkArity(arguments, 1, 1);
  return new PreforkServer(normaliseOptions(options));
}
