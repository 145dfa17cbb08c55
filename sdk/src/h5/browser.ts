/**
 * Script-tag build: `<script src="siyu.h5.min.js">` defines `window.siyu`. When the page used
 * the async-loading snippet, `window.siyu` is a stub holding the calls made so far in `_q`:
 * they are replayed here, in order, on the real SDK.
 */
import siyu from './index';

type Sdk = typeof siyu;
const w = window as unknown as { siyu?: Sdk & { _q?: Array<[string, ArrayLike<unknown>]> } };
const stub = w.siyu;
w.siyu = siyu;
if (stub && stub._q && stub._q.length) {
  for (const [name, args] of stub._q) {
    const fn = (siyu as unknown as Record<string, unknown>)[name];
    if (typeof fn === 'function') fn.apply(siyu, Array.prototype.slice.call(args));
  }
}
