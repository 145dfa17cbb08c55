/** Guards that keep SDK failures out of the host page or app. */

/** Wrap an API function: any exception is logged (when debug) and swallowed, returning `fallback`. */
export function safe<A extends unknown[], R>(fn: (...args: A) => R, fallback: R, log: (e: unknown) => void): (...args: A) => R {
  return function (this: unknown, ...args: A): R {
    try {
      return fn.apply(this, args);
    } catch (e) {
      log(e);
      return fallback;
    }
  };
}
