/**
 * siyu for H5 pages. `siyu.init({serverUrl, writeKey})`, then auto-capture runs and the code
 * API (`track`, `login`, `setProfile`, `share`, …) is available. Calls made before `init`
 * are kept (up to 100) and replayed by it. No method throws.
 */
import { commonApi, type SiyuApi } from '../core/api';
import { Client, VERSION } from '../core/client';
import { safe } from '../core/safe';
import type { Options, Props } from '../core/types';
import { AutoTracker, type AutoTrackOptions } from './autotrack';
import { browserRandom, browserStore, browserTimers, browserTransport, readCookie, writeCookie } from './env';
import { DEPTH_PARAM, entryFieldsOf, parseQuery, SHARER_PARAM, type Share, shareOf, utmOf, withParams } from './page';

export interface H5Options extends Options {
  /** `false` turns auto-capture off; an object turns single parts off. */
  autoTrack?: boolean | AutoTrackOptions;
  /** Cookie domain for the anonymous id (e.g. `.example.com` to share it across subdomains). */
  cookieDomain?: string;
}

const ANON_COOKIE = 'siyu_anon';
const SESSION_KEY = 'siyu_session';

let client: Client | null = null;
let tracker: AutoTracker | null = null;
let cookieDomain: string | undefined;
let session: { utm?: Record<string, string>; share?: Share; entry?: Record<string, string> } = {};
const pending: Array<() => void> = [];

function log(e: unknown): void {
  if (client) client.log(e);
}

function run<R>(fn: (c: Client) => R, fallback: R): R {
  if (client) return fn(client);
  if (pending.length < 100) pending.push(() => fn(client as Client));
  return fallback;
}

function sessionGet(): typeof session {
  try {
    return JSON.parse(sessionStorage.getItem(SESSION_KEY) || '{}') || {};
  } catch {
    return {};
  }
}

function sessionSet(): void {
  try {
    sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
  } catch {
    // no sessionStorage: the values live in memory for this page
  }
}

/**
 * Entry attribution of this browsing session, from the landing URL (and later routes that
 * carry new values): utm, the inbound share, and the live code / material / channel.
 */
function readEntry(): void {
  const query = parseQuery(location.search);
  const utm = utmOf(query);
  const share = shareOf(query, location.pathname);
  const entry = entryFieldsOf(query);
  if (utm) session.utm = utm;
  if (share) session.share = share;
  if (entry) session.entry = entry;
  if (utm || share || entry) sessionSet();
}

function init(options: H5Options): void {
  if (client) return;
  session = sessionGet();
  cookieDomain = options.cookieDomain;
  const c = new Client(
    {
      platform: 'h5',
      store: browserStore(),
      transport: browserTransport(),
      timers: browserTimers,
      queueKey: 'siyu_q:' + Date.now().toString(36) + Math.random().toString(36).slice(2, 8),
      adopt: true,
      random: browserRandom,
      context: () => {
        const ctx: Props = { ...session.entry };
        if (session.utm) ctx.utm = session.utm;
        if (session.share) ctx.share = session.share;
        return ctx;
      },
      anonymousIdChanged: (id) => writeCookie(ANON_COOKIE, id, cookieDomain),
      presets: () => ({
        $url: location.href,
        $url_path: location.pathname,
        $title: document.title,
        $screen_width: screen.width,
        $screen_height: screen.height,
      }),
    },
    options,
  );
  client = c;
  // The cookie outlives a cleared localStorage (and the reverse): whichever survived wins.
  const fromCookie = readCookie(ANON_COOKIE);
  if (fromCookie) c.setAnonymousId(fromCookie);
  writeCookie(ANON_COOKIE, c.anonymousId, cookieDomain);
  const auto = options.autoTrack === false ? { pageview: false, click: false, stay: false } : options.autoTrack === true ? {} : options.autoTrack || {};
  tracker = new AutoTracker(c, auto, readEntry);
  readEntry();
  if (auto.pageview === false) {
    // No page views: still deliver what is queued when the page goes away.
    document.addEventListener('visibilitychange', () => document.visibilityState === 'hidden' && c.beacon());
    window.addEventListener('pagehide', () => {
      c.beacon();
      c.release();
    });
  } else tracker.start();
  while (pending.length) safe(pending.shift() as () => void, undefined, log)();
}

/**
 * A link to `url` (default: this page) that carries this visitor as the sharer, tracked as a
 * `share` event. Whoever opens it carries `context.share = {sharer, depth, path}` on their events.
 */
function share(url?: string, props?: Props): string {
  const c = client;
  const target = url || location.href;
  if (!c) return target;
  const depth = (session.share ? session.share.depth : 0) + 1;
  const link = withParams(target, { [SHARER_PARAM]: c.anonymousId, [DEPTH_PARAM]: String(depth) });
  const path = link.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/?#]+/i, '').split(/[?#]/)[0] || '/';
  c.track('share', { $share_url: link, ...props }, { share: { sharer: c.anonymousId, depth, path } });
  return link;
}

const read = <R>(fn: (c: Client) => R, fallback: R): R => (client ? fn(client) : fallback);

/** The H5 SDK: the shared code API plus page-only calls. */
export interface SiyuH5 extends SiyuApi {
  readonly version: string;
  /** Start: auto-capture runs and calls made before `init` are replayed. Only the first call counts. */
  init(options: H5Options): void;
  /** A manual `$pageview` (for routes the auto-capture cannot see). */
  trackPageview(props?: Props): void;
  /**
   * A link to `url` (default: this page) that carries this visitor as the sharer, tracked as a
   * `share` event (`props` go on it).
   */
  share(url?: string, props?: Props): string;
  /** Run `fn(siyu)` once the SDK is initialised (for pages that load it with the async snippet). */
  ready(fn: (sdk: SiyuH5) => void): void;
}

const siyu: SiyuH5 = {
  version: VERSION,
  init: safe(init, undefined, log),
  ...commonApi(run, read, log),
  trackPageview: safe((props?: Props): void => run(() => void (tracker && tracker.pageview(document.referrer, props)), undefined), undefined, log),
  share: (url?: string, props?: Props): string => {
    try {
      return share(url, props);
    } catch (e) {
      log(e);
      return url || location.href; // the host still gets a working link
    }
  },
  ready: safe((fn: (sdk: SiyuH5) => void) => run(() => safe(fn, undefined, log)(siyu), undefined), undefined, log),
};

export default siyu;
export { siyu };
export type { SiyuApi } from '../core/api';
export type { Options, Props, WireEvent } from '../core/types';
export type { AutoTrackOptions } from './autotrack';
