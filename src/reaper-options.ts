// The options of the reapers, read and checked with src/args.ts before anything is reaped.
import { checkInteger, invalidType, invalidValue, readOptions } from './args';

/** Which children a reaper reaps: 'own' (forked by this library) or 'all' (`waitpid(-1)`). */
export type ReapScope = 'own' | 'all';

export interface ReaperOptions {
  /** 'own' (default): only children this library forked. 'all': every child (`waitpid(-1)`). */
  scope?: ReapScope;
  /** Poll every `pollMs` milliseconds instead of watching SIGCHLD (1 … 2147483647). */
  pollMs?: number;
}

export interface ReapOptions {
  /** 'own' (default) or 'all', as for Reaper. */
  scope?: ReapScope;
}

/** The largest setInterval delay, and the largest pid_t. */
export const MAX_INT32 = 2147483647;

function readScope(value: unknown): ReapScope {
  if (value === undefined) return 'own';
  if (typeof value !== 'string') invalidType('options.scope', 'of type string', value);
  if (value !== 'own' && value !== 'all')
    invalidValue('options.scope', "must be 'own' or 'all'", value);
  return value;
}

/** new Reaper(options): the scope, and the polling interval (undefined: watch SIGCHLD). */
export function readReaperOptions(value: unknown): {
  scope: ReapScope;
  pollMs: number | undefined;
} {
  const options = readOptions(value, ['scope', 'pollMs']);
  return {
    scope: readScope(options.scope),
    pollMs:
      options.pollMs === undefined
        ? undefined
        : checkInteger('options.pollMs', options.pollMs, 1, MAX_INT32),
  };
}

/** reapChildren(options): the scope. */
export function readReapOptions(value: unknown): ReapScope {
  return readScope(readOptions(value, ['scope']).scope);
}
