// Argument checks shared by the TypeScript layer: TypeError/RangeError with Node's codes,
// thrown before any system call.

export function fail(Kind: TypeErrorConstructor | RangeErrorConstructor, code: string, message: string):
never {
  const error = new Kind(message);
  (error as NodeJS.ErrnoException).code = code;
  throw error;
}

export function checkArity(args: IArguments, min: number, max: number): void {
  if (args.length < min) {
    fail(TypeError, 'ERR_MISSING_ARGS',
      `Expected at least ${min} argument(s), received ${args.length}`);
  }
  if (args.length > max) {
    fail(TypeError, 'ERR_TOO_MANY_ARGS',
      `Expected at most ${max} argument(s), received ${args.length}`);
  }
}

/**
 * An options object must be a plain object literal: a Date, a boxed Number, a Map or an array
 * there is a mistake, not a set of options (which are read from own properties only).
 */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null &&
    [Object.prototype, null].includes(Object.getPrototypeOf(value));
}
