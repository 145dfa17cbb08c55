/** Shared types of the core and its adapters. */

export type Props = Record<string, unknown>;

/** `track` and `identify` events, and the user-property operations (values in `properties`). */
export type EventType = 'track' | 'identify' | ProfileType;

export type ProfileType = 'profile_set' | 'profile_set_once' | 'profile_increment' | 'profile_append' | 'profile_unset' | 'profile_delete';

export type Platform = 'h5' | 'miniprogram';

/**
 * One event of the native envelope, as posted to `/v1/batch` in `{sent_at, events: [...]}`.
 * `time` is client time in epoch ms; `identities` maps an identity key (`type` or
 * `type:namespace`, e.g. `wx_openid:<appid>`) to its value; `context` holds `lib`, and the
 * entry context of the visit: `scene`, `utm`, `share`, `qr`, `material`, `channel`.
 */
export interface WireEvent {
  event_id: string;
  type: EventType;
  event: string;
  time: number;
  platform: Platform;
  identities: Record<string, string>;
  properties: Props;
  context: Props;
}

/** Key/value storage that survives a reload (localStorage, wx storage). Must not throw. */
export interface KeyValueStore {
  get(key: string): string | null;
  set(key: string, value: string): boolean;
  remove(key: string): void;
  /** Every key, when the store can list them (used to adopt queues left by closed tabs). */
  keys?(): string[];
}

/**
 * Sends one batch body. Resolves to the HTTP status, 0 for a network error; never rejects.
 * `beacon` (browsers only) hands the body to the browser for delivery after the page is gone.
 */
export interface Transport {
  send(url: string, body: string, writeKey: string): Promise<number>;
  beacon?(url: string, body: string, writeKey: string): boolean;
}

export interface Timers {
  now(): number;
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

/** What an adapter gives the core. */
export interface Environment {
  platform: Platform;
  store: KeyValueStore;
  transport: Transport;
  timers: Timers;
  /** Storage key of this instance's queue; instances with `adopt` take over stale queues of others. */
  queueKey: string;
  adopt?: boolean;
  /** Context fields of the moment (scene, share, utm, qr, …); merged into every event's context. */
  context(): Props;
  /** Told whenever the anonymous id changes (the H5 adapter mirrors it into a cookie). */
  anonymousIdChanged?(id: string): void;
  /** Preset properties of the moment ($url_path, screen size, …); event properties win. */
  presets(): Props;
  random(bytes: number): Uint8Array;
}

export interface Options {
  /** Collector base URL, e.g. `https://collect.example.com` (the SDK posts to `/v1/batch`). */
  serverUrl: string;
  /** Project write key (sent as `X-Siyu-Key`, or `?key=` for browsers). */
  writeKey: string;
  /** Events per request (default 20, at most 500). */
  batchSize?: number;
  /** Longest time an event waits in the queue before a send is tried, ms (default 2000). */
  flushInterval?: number;
  /** Most events kept in the persisted queue; the oldest are dropped beyond it (default 500). */
  maxQueue?: number;
  /** First retry delay after a failed send, ms (default 1000); doubles up to `maxRetryDelay`. */
  retryDelay?: number;
  /** Longest retry delay, ms (default 60000). */
  maxRetryDelay?: number;
  /** Log SDK problems to the console (default false). */
  debug?: boolean;
}
