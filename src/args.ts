// Argument checks shared by the whole TypeScript layer: TypeError/RangeError with Node's
// codes and Node's "Received …" wording (native/args.cc writes the same words), thrown before
// any system call. Every entry point checks through these; no module words its own.

type ArgErrorKind = TypeErrorConstructor | RangeErrorConstructor | ErrorConstructor;

/** An Error of `Kind` carrying Node's `code`. */
export function argError(Kind: ArgErrorKind, code: string, message: string): Error {
  const error = new Kind(message);
  (error as NodeJS.ErrnoException).code = code;
  return error;
}

export function fail(Kind: ArgErrorKind, code: string, message: string): never {
  throw argError(Kind, code, message);
}

const MAX_SHOWN_STRING = 28;

/** Node's tail of ERR_INVALID_ARG_TYPE: "Received type string ('abc')", "Received null", … */
export function describeReceived(value: unknown): string {
  if (value === null || value === undefined) return `Received ${String(value)}`;
  if (typeof value === 'function') return `Received function ${value.name || '<anonymous>'}`;
  if (typeof value === 'object') {
    const name = Array.isArray(value) ? 'Array' : value.constructor?.name || 'Object';
    return `Received an instance of ${name}`;
  }
  if (typeof value === 'string') {
    const shown =
      value.length > MAX_SHOWN_STRING ? `${value.slice(0, MAX_SHOWN_STRING - 3)}...` : value;
    return `Received type string ('${shown}')`;
  }
  if (typeof value === 'bigint') return `Received type bigint (${value}n)`;
  return `Received type ${typeof value} (${String(value)})`;
}

/**
 * `"pid" argument` for a positional argument, `"options.umask" property` for an option:
 * the subject of Node's messages. Names containing a dot are options.
 */
function subject(name: string): string {
  return name.includes('.') ? `"${name}" property` : `"${name}" argument`;
}

/** ERR_INVALID_ARG_TYPE: `The "name" argument must be <expected>. Received …`. */
export function invalidType(name: string, expected: string, value: unknown): never {
  return fail(
    TypeError,
    'ERR_INVALID_ARG_TYPE',
    `The ${subject(name)} must be ${expected}. ${describeReceived(value)}`,
  );
}

/** ERR_OUT_OF_RANGE: `The value of "name" is out of range. It must be <range>. Received 5`. */
export function outOfRange(name: string, range: string, value: unknown): never {
  const shown = typeof value === 'string' ? `'${value}'` : String(value);
  return fail(
    RangeError,
    'ERR_OUT_OF_RANGE',
    `The value of "${name}" is out of range. It must be ${range}. Received ${shown}`,
  );
}

/** ERR_INVALID_ARG_VALUE: a value of the right type that is not allowed. */
export function invalidValue(name: string, reason: string, value: unknown): never {
  const shown = typeof value === 'string' ? `'${value}'` : String(value);
  return fail(
    TypeError,
    'ERR_INVALID_ARG_VALUE',
    `The ${subject(name)} ${reason}. Received ${shown}`,
  );
}

/**
 * The largest value of a C int: the bound of pids, descriptors and millisecond counts that
 * the system calls and Node's timers take.
 */
export const MAX_INT32 = 2147483647;

/** An integer in [min, max]; `maxText` names a symbolic maximum ("2 ** 31 - 1"). */
export function checkInteger(
  name: string,
  value: unknown,
  min: number,
  max: number,
  maxText: string = String(max),
): number {
  if (typeof value !== 'number') invalidType(name, 'of type number', value);
  if (!Number.isInteger(value) || value < min || value > max) {
    outOfRange(name, `an integer >= ${min} and <= ${maxText}`, value);
  }
  return value;
}

export function checkBoolean(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') invalidType(name, 'of type boolean', value);
  return value;
}

export function checkFunction<F extends (...args: never[]) => unknown>(
  name: string,
  value: unknown,
): F {
  if (typeof value !== 'function') invalidType(name, 'of type function', value);
  return value as F;
}

export function checkString(name: string, value: unknown): string {
  if (typeof value !== 'string') invalidType(name, 'of type string', value);
  if (value.includes('\0')) invalidValue(name, 'must be a string without null bytes', value);
  return value;
}

/** A file or socket path: a non-empty string without null bytes. */
export function checkPath(name: string, value: unknown): string {
  if (checkString(name, value) === '') invalidValue(name, 'must be a non-empty string', value);
  return value as string;
}

export function checkArity(args: IArguments, min: number, max: number): void {
  if (args.length < min) {
    fail(
      TypeError,
      'ERR_MISSING_ARGS',
      `Expected at least ${min} argument(s), received ${args.length}`,
    );
  }
  if (args.length > max) {
    fail(
      TypeError,
      'ERR_TOO_MANY_ARGS',
      `Expected at most ${max} argument(s), received ${args.length}`,
    );
  }
}

/**
 * An options object must be a plain object literal: a Date, a boxed Number, a Map or an array
 * there is a mistake, not a set of options (which are read from own properties only).
 */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    [Object.prototype, null].includes(Object.getPrototypeOf(value))
  );
}

/**
 * The options argument as a null-prototype copy of its own properties, restricted to `known`
 * names (any other, a symbol too, is ERR_INVALID_ARG_VALUE). `undefined` means no options.
 * Reading own properties only means `Object.prototype.umask = …` elsewhere changes nothing
 * here. The options must be a plain object; with `anyObject` (daemonize() and Pool, which have
 * always taken them so), any object but an array, whose inherited properties are ignored.
 */
export function readOptions(
  value: unknown,
  known: readonly string[],
  name = 'options',
  anyObject = false,
): Record<string, unknown> {
  const options: Record<string, unknown> = Object.create(null);
  if (value === undefined) return options;
  if (anyObject) {
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      invalidType(name, 'of type object', value);
  } else if (!isPlainObject(value)) {
    invalidType(name, 'a plain object', value);
  }
  for (const key of Reflect.ownKeys(value as object)) {
    if (typeof key !== 'string' || !known.includes(key)) {
      fail(
        TypeError,
        'ERR_INVALID_ARG_VALUE',
        `The ${subject(name)} has an unknown property '${String(key)}' (known: ${known.join(', ')})`,
      );
    }
    options[key] = (value as Record<string, unknown>)[key];
  }
  return options;
}

/** The errno name of a caught system error ('ENOENT'), or undefined. */
export function errnoCode(error: unknown): string | undefined {
  const code =
    typeof error === 'object' && error !== null ? (error as NodeJS.ErrnoException).code : undefined;
  return typeof code === 'string' ? code : undefined;
}
