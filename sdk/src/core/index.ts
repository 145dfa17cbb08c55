/** The core's public parts (for tests and for building other adapters). */
export { BEACON_BYTES, Client, LIB, VERSION } from './client';
export { isRetriable, retryDelay } from './backoff';
export { isJunkId, randomId, utf8Bytes, weakRandom } from './ids';
export { Queue, STALE_MS } from './queue';
export type { Environment, KeyValueStore, Options, Props, Timers, Transport, WireEvent } from './types';
