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
import { isJunkId, randomId } from './ids';
import { Queue } from './queue';
import type { Environment, EventType, Options, Props, WireEvent } from './types';

export const VERSION = '0.1.0';
export const LIB = 'siyu-js';

const STATE_KEY = 'siyu_state';
// sendBeacon refuses bodies over 64 KiB in most browsers; stay under it.
const BEACON_BYTES = 60000;

interface State {
  anon: string;
  ids: Record<string, string>;
  props: Props;
}

export class Client {
  readonly options: Required<Omit<Options, 'serverUrl' | 'writeKey'>> & { serverUrl: string; writeKey: string };
  readonly queue: Queue;
  private state: State;
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

  /** Forget the person: a new anonymous id and no other identities (super properties stay). */
  reset(): void {
    this.state.anon = randomId(this.env.random);
    this.state.ids = {};
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

  // ---- events ---------------------------------------------------------------------------

  track(event: string, props?: Props, context?: Props): WireEvent | null {
    if (typeof event !== 'string' || !event) return null;
    return this.enqueue('track', event, props, context);
  }

  enqueue(type: EventType, event: string, props?: Props, context?: Props): WireEvent {
    const e: WireEvent = {
      event_id: randomId(this.env.random),
      type,
      event,
      time: this.env.timers.now(),
      platform: this.env.platform,
      identities: this.identities(),
      properties: { ...this.env.presets(), ...this.state.props, ...(isObject(props) ? props : {}) },
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
      while (body.length > BEACON_BYTES && batch.length > 1) {
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

  /** Replace the anonymous id (the H5 adapter restores it from a cookie). */
  setAnonymousId(id: string): void {
    if (isJunkId(id) || id === this.state.anon) return;
    this.state.anon = String(id);
    this.saveState();
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
