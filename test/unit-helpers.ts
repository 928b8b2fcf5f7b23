// For the in-process unit tests: what a call throws, as plain data to compare.

export interface Thrown {
  /** The error's class: 'TypeError', 'RangeError', … */
  name: string;
  code: unknown;
  message: string;
}

/** What `call` throws; fails the test when it returns. */
export function thrown(call: () => unknown): Thrown {
  try {
    call();
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    return { name: e.constructor.name, code: e.code, message: e.message };
  }
  throw new Error('expected a throw, but the call returned');
}
