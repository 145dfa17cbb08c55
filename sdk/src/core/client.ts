/**
 * The core shared by the H5 and mini-program adapters: event building, identities, super
 * properties, the persisted queue and its delivery loop.
 *
 * Delivery: one request in flight at a time, `batchSize` events per request, a send when the
 * queue holds a full batch or `flushInterval` after the oldest waiting event. A failed send is
 * retried with exponential backoff; the events keep their ids, so a request that reached the
 * collector but whose answer was lost is deduplicated there. Nothing here throws into the host.
 */
import { isRetriable, retryDelay } from './backoff';
import { isJunkId, randomId, utf8Bytes } from './ids';
import { profileProps } from './profile';
import { Queue } from './queue';
import { EventTimers } from './timers';
import type { Environment, EventType, Options, ProfileType, Props, WireEvent } from './types';

// The package version, put in by the build (package.json is its one source).
declare const __SIYU_VERSION__: string;
export const VERSION = __SIYU_VERSION__;
export const LIB = 'siyu-js';

const STATE_KEY = 'siyu_state';
// sendBeacon refuses bodies over 64 KiB (UTF-8 bytes) in most browsers; stay under it.
export const BEACON_BYTES = 60000;
// Identities of the WeChat account on this device, not of the logged-in user: a logout keeps them.
const DEVICE_IDENTITY = /^wx_(openid|unionid)(:|$)/;

interface State {
  anon: string;
  ids: Record<string, string>;
  props: Props;
}

export class Client {
  readonly options: Required<Omit<Options, 'serverUrl' | 'writeKey'>> & { serverUrl: string; writeKey: string };
  readonly queue: Queue;
  readonly timers: EventTimers;
  private state: State;
  /** Page-level super properties (`registerPage`): in memory only; function values run per event. */
  private pageProps: Props = {};
  private timer: unknown = null;
  private loop: Promise<void> | null = null;
  private attempt = 0;

  constructor(
    private env: Environment,
    options: Options,
  ) {
    this.options = {
      batchSize: clamp(options.batchSize, 1, 500, 20),
      flushInterval: clamp(options.flushInterval, 0, 3600000, 2000),
      maxQueue: clamp(options.maxQueue, 1, 10000, 500),
      retryDelay: clamp(options.retryDelay, 1, 3600000, 1000),
      maxRetryDelay: clamp(options.maxRetryDelay, 1, 3600000, 60000),
      debug: !!options.debug,
      serverUrl: String(options.serverUrl || '').replace(/\/+$/, ''),
      writeKey: String(options.writeKey || ''),
    };
    this.state = this.loadState();
    this.queue = new Queue(env.store, env.queueKey, this.options.maxQueue, env.timers.now);
    this.timers = new EventTimers(env.timers.now);
    if (env.adopt) this.queue.adopt(env.queueKey.split(':')[0] + ':');
    if (this.queue.items.length) this.schedule(0);
  }

  // ---- identity -------------------------------------------------------------------------

  get anonymousId(): string {
    return this.state.anon;
  }

  /** Every identity this device has shown, anonymous id included. */
  identities(): Record<string, string> {
    const out: Record<string, string> = { anonymous_id: this.state.anon };
    for (const k in this.state.ids) out[k] = this.state.ids[k];
    return out;
  }

  /** Set (or with a junk/empty value, remove) one identity; an `identify` event links it. */
  setIdentity(type: string, value: unknown, extraProps?: Props): void {
    const key = String(type || '').trim();
    if (!key || key === 'anonymous_id') return;
    if (isJunkId(value)) {
      if (key in this.state.ids) {
        delete this.state.ids[key];
        this.saveState();
      }
      return;
    }
    const text = String(value).trim();
    if (this.state.ids[key] === text) return;
    this.state.ids[key] = text;
    this.saveState();
    this.enqueue('identify', '$identify', { $identity_type: key, ...extraProps });
  }

  /**
   * The user logged out: the login id and the other account identities go; the anonymous id
   * and the WeChat identities of the device (`wx_openid:*`, `wx_unionid`) stay. With
   * `changeId`, a new anonymous id and no other identity at all (a new person on this device).
   * Super properties stay.
   */
  logout(changeId?: boolean): void {
    const kept: Record<string, string> = {};
    if (!changeId) for (const k in this.state.ids) if (DEVICE_IDENTITY.test(k)) kept[k] = this.state.ids[k];
    this.state.ids = kept;
    if (changeId) this.setAnonymousId(randomId(this.env.random));
    this.saveState();
  }

  // ---- super properties -----------------------------------------------------------------

  register(props: Props): void {
    if (!isObject(props)) return;
    for (const k in props) this.state.props[k] = props[k];
    this.saveState();
  }

  unregister(name: string): void {
    delete this.state.props[name];
    this.saveState();
  }

  superProperties(): Props {
    return { ...this.state.props };
  }

  registerPage(props: Props): void {
    if (isObject(props)) for (const k in props) this.pageProps[k] = props[k];
  }

  /** Drop the named page-level properties, or all of them when no names are given. */
  clearPageRegister(names?: string[]): void {
    if (!Array.isArray(names)) this.pageProps = {};
    else for (const k of names) delete this.pageProps[k];
  }

  private pageValues(): Props {
    const out: Props = {};
    for (const k in this.pageProps) {
      const v = this.pageProps[k];
      try {
        out[k] = typeof v === 'function' ? v() : v;
      } catch (e) {
        this.log(e); // a broken getter loses its property, not the event
      }
    }
    return out;
  }

  // ---- events ---------------------------------------------------------------------------

  track(event: string, props?: Props, context?: Props): WireEvent | null {
    if (typeof event !== 'string' || !event) return null;
    return this.enqueue('track', event, props, context);
  }

  /** A user-property operation (`profile_*`); see `profileProps` for what each one carries. */
  profile(type: ProfileType, input?: unknown): WireEvent | null {
    const props = profileProps(type, input);
    return props ? this.enqueue(type, '', props) : null;
  }

  /** Track `event` with the duration of its timer as `$event_duration` (seconds), if one ran. */
  trackTimerEnd(event: string, props?: Props): WireEvent | null {
    if (typeof event !== 'string' || !event) return null;
    const duration = this.timers.end(event);
    return this.track(event, duration === null ? props : { ...(isObject(props) ? props : {}), $event_duration: duration });
  }

  /**
   * Queue one event. `track`/`identify` events carry preset, super and page properties under
   * their own; `profile_*` events carry exactly the values given (they become user properties).
   */
  enqueue(type: EventType, event: string, props?: Props, context?: Props): WireEvent {
    const own = isObject(props) ? props : {};
    const e: WireEvent = {
      event_id: randomId(this.env.random),
      type,
      event,
      time: this.env.timers.now(),
      platform: this.env.platform,
      identities: this.identities(),
      properties: type === 'track' || type === 'identify' ? { ...this.env.presets(), ...this.state.props, ...this.pageValues(), ...own } : own,
      context: { lib: { name: LIB, version: VERSION }, ...this.env.context(), ...(isObject(context) ? context : {}) },
    };
    this.queue.push(e);
    this.schedule(this.queue.items.length >= this.options.batchSize ? 0 : this.options.flushInterval);
    return e;
  }

  // ---- delivery -------------------------------------------------------------------------

  url(): string {
    return this.options.serverUrl + '/v1/batch';
  }

  body(events: WireEvent[]): string {
    return JSON.stringify({ sent_at: this.env.timers.now(), events });
  }

  /** Send now (not waiting for the interval). Resolves when the queue is empty or a send failed. */
  flush(): Promise<void> {
    this.clearTimer();
    const running = this.loop;
    return running ? running.then(() => this.sendLoop()) : this.sendLoop();
  }

  /**
   * Hand what is queued to the browser's beacon (page is being hidden or closed). Events the
   * browser accepted leave the queue; the rest stay persisted for the next page.
   */
  beacon(): void {
    const t = this.env.transport;
    if (!t.beacon) return;
    while (this.queue.items.length) {
      let batch = this.queue.head(this.options.batchSize);
      let body = this.body(batch);
      while (utf8Bytes(body) > BEACON_BYTES && batch.length > 1) {
        batch = batch.slice(0, Math.ceil(batch.length / 2));
        body = this.body(batch);
      }
      if (!t.beacon(this.url(), body, this.options.writeKey)) return;
      this.queue.ack(batch.map((e) => e.event_id));
    }
  }

  /** The page is closing: hand what is left to the next page (after a last beacon). */
  release(): void {
    this.queue.release();
  }

  private sendLoop(): Promise<void> {
    if (!this.loop) {
      this.loop = this.drain().then(() => {
        this.loop = null;
      });
    }
    return this.loop;
  }

  /** Send batches until the queue is empty or a send fails (then a retry is scheduled). */
  private async drain(): Promise<void> {
    try {
      while (this.queue.items.length) {
        const batch = this.queue.head(this.options.batchSize);
        const ids = batch.map((e) => e.event_id);
        const status = await this.env.transport.send(this.url(), this.body(batch), this.options.writeKey);
        if (status >= 200 && status < 300) {
          // Rejected events were dead-lettered by the collector: resending cannot help.
          this.attempt = 0;
          this.queue.ack(ids);
        } else if (isRetriable(status)) {
          this.attempt++;
          this.queue.save(); // heartbeat: a live tab retrying offline is not a closed one
          const o = this.options;
          this.log('send failed, status ' + status + ', retry ' + this.attempt);
          this.schedule(retryDelay(this.attempt, o.retryDelay, o.maxRetryDelay, Math.random()), true);
          return;
        } else {
          // Other 4xx: the collector will never accept this body as sent (it dead-letters it).
          this.log('batch refused with status ' + status + ', dropping ' + batch.length + ' events');
          this.attempt = 0;
          this.queue.ack(ids);
        }
      }
    } catch (err) {
      // A transport that broke its contract (threw): treat like a network error.
      this.log(err);
      this.attempt++;
      this.schedule(retryDelay(this.attempt, this.options.retryDelay, this.options.maxRetryDelay, Math.random()), true);
    }
  }

  private schedule(ms: number, force = false): void {
    if (this.timer !== null && !force && ms > 0) return;
    if (this.attempt > 0 && !force) return; // backing off: the retry timer decides
    this.clearTimer();
    this.timer = this.env.timers.set(() => {
      this.timer = null;
      void this.sendLoop();
    }, ms);
  }

  private clearTimer(): void {
    if (this.timer !== null) this.env.timers.clear(this.timer);
    this.timer = null;
  }

  // ---- state ----------------------------------------------------------------------------

  private loadState(): State {
    let doc: Partial<State> = {};
    try {
      doc = JSON.parse(this.env.store.get(STATE_KEY) || '{}') || {};
    } catch {
      doc = {};
    }
    const state: State = {
      anon: typeof doc.anon === 'string' && !isJunkId(doc.anon) ? doc.anon : randomId(this.env.random),
      ids: isObject(doc.ids) ? (doc.ids as Record<string, string>) : {},
      props: isObject(doc.props) ? doc.props : {},
    };
    if (!doc.anon) this.env.store.set(STATE_KEY, JSON.stringify(state));
    return state;
  }

  saveState(): void {
    this.env.store.set(STATE_KEY, JSON.stringify(this.state));
  }

  /** Replace the anonymous id (Sensors' `identify`; the H5 adapter also restores it from a cookie). */
  setAnonymousId(id: unknown): void {
    if (isJunkId(id)) return;
    const text = String(id).trim();
    // The collector keeps identity values up to 255 characters.
    if (text === this.state.anon || text.length > 255) return;
    this.state.anon = text;
    this.saveState();
    if (this.env.anonymousIdChanged) this.env.anonymousIdChanged(text);
  }

  log(msg: unknown): void {
    if (this.options.debug && typeof console !== 'undefined') console.warn('[siyu]', msg);
  }
}

function clamp(v: unknown, lo: number, hi: number, dflt: number): number {
  const n = typeof v === 'number' && isFinite(v) ? v : dflt;
  return Math.min(hi, Math.max(lo, n));
}

export function isObject(v: unknown): v is Props {
  return !!v && typeof v === 'object' && !Array.isArray(v);
}
