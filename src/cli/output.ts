// Terminal output of the command: colour only on a terminal (or when asked), plain text in
// pipes and files, and one-line errors.

/** ANSI styles; each returns its text unchanged when colour is off. */
export interface Style {
  readonly enabled: boolean;
  bold(text: string): string;
  dim(text: string): string;
  red(text: string): string;
  green(text: string): string;
  yellow(text: string): string;
  blue(text: string): string;
  magenta(text: string): string;
  cyan(text: string): string;
}

/**
 * Whether to colour `stream`: `--color`/`--no-color` first, then NO_COLOR (any non-empty
 * value: no colour, see no-color.org), then FORCE_COLOR ('0' or 'false': no colour, any
 * other non-empty value: colour), then "is it a terminal that is not TERM=dumb".
 */
export function wantsColor(stream: { isTTY?: boolean }, flag?: boolean): boolean {
  if (flag !== undefined) return flag;
  const env = process.env;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '') {
    return env.FORCE_COLOR !== '0' && env.FORCE_COLOR !== 'false';
  }
  return stream.isTTY === true && env.TERM !== 'dumb';
}

function sgr(open: number, close: number, enabled: boolean): (text: string) => string {
  return enabled ? (text) => `\x1b[${open}m${text}\x1b[${close}m` : (text) => text;
}

export function makeStyle(enabled: boolean): Style {
  return {
    enabled,
    bold: sgr(1, 22, enabled),
    dim: sgr(2, 22, enabled),
    red: sgr(31, 39, enabled),
    green: sgr(32, 39, enabled),
    yellow: sgr(33, 39, enabled),
    blue: sgr(34, 39, enabled),
    magenta: sgr(35, 39, enabled),
    cyan: sgr(36, 39, enabled),
  };
}

/** Usage errors (unknown option, bad value, missing argument): 2, as most Unix tools. */
export const USAGE_EXIT = 2;

/** An error the command reports as one line on stderr, ending with `exitCode`. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** One line, no stack: `posix-fork <command>: <message>`. */
export function errorLine(command: string, error: unknown): string {
  let message: string;
  if (error instanceof Error) {
    // Multi-line messages ("the daemon failed before it started:\n<its error and stack>")
    // keep their first line, and the line after it when the first one announces it.
    const lines = error.message
      .split('\n')
      .map((line) => line.trim())
      .filter(Boolean);
    message = lines[0] ?? error.name;
    if (message.endsWith(':') && lines.length > 1) message = `${message} ${lines[1]}`;
  } else {
    message = String(error);
  }
  return `posix-fork${command ? ` ${command}` : ''}: ${message}`;
}
