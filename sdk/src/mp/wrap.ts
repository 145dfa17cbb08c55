/**
 * Wrapping of `App` and `Page` options for auto-capture. The SDK part of every hook runs
 * guarded and before (or, for share hooks, around) the host's own handler; the host handler's
 * own result and exceptions pass through unchanged.
 */
import type { Client } from '../core/client';
import type { Props } from '../core/types';
import { clip, withParams } from '../h5/page';
import { DEPTH_PARAM, entryOf, type Entry, queryString, SHARER_PARAM } from './entry';
import type { EnterOptions } from './env';

type Fn = (this: PageThis, ...args: unknown[]) => unknown;
type Options = Record<string, unknown>;

interface PageThis {
  route?: string;
  __siyu?: { query: Record<string, string>; start: number };
}

const PAGE_HOOKS = ['onLoad', 'onShow', 'onReady', 'onHide', 'onUnload', 'onPullDownRefresh', 'onReachBottom', 'onPageScroll', 'onResize', 'onTabItemTap', 'onShareAppMessage', 'onShareTimeline', 'onAddToFavorites', 'onSaveExitState'];
const TAPS = ['tap', 'longpress', 'longtap'];

/** Auto-capture switches (Sensors' `autoTrack` names). */
export interface AutoTrack {
  /** `$MPLaunch` (default on) */
  appLaunch?: boolean;
  /** `$MPShow` (default on) */
  appShow?: boolean;
  /** `$MPHide` (default on) */
  appHide?: boolean;
  /** `$MPViewScreen` (default on) */
  pageShow?: boolean;
  /** `$MPShare` (default on; share links get `siyu_sharer`/`siyu_depth` either way) */
  pageShare?: boolean;
  /** `$MPClick` (default off, as in Sensors) */
  mpClick?: boolean;
  /** `$MPAddFavorites` (default on) */
  mpFavorite?: boolean;
  /** `$MPPageLeave` (default off, as in Sensors) */
  pageLeave?: boolean;
}

// Sensors' sa-sdk-miniprogram defaults (`para.autoTrack`).
const AUTO_DEFAULTS: Required<AutoTrack> = {
  appLaunch: true,
  appShow: true,
  appHide: true,
  pageShow: true,
  pageShare: true,
  mpClick: false,
  mpFavorite: true,
  pageLeave: false,
};

/** The switches in force: Sensors' defaults, overridden by the given ones; `false` turns all off. */
export function autoTrackOf(option: boolean | AutoTrack | undefined): Required<AutoTrack> {
  const out = { ...AUTO_DEFAULTS };
  for (const k in out) {
    const key = k as keyof AutoTrack;
    if (option === false) out[key] = false;
    else if (option && typeof option === 'object' && typeof option[key] === 'boolean') out[key] = option[key] as boolean;
  }
  return out;
}

export interface Host {
  client: Client;
  auto: Required<AutoTrack>;
  entry: Entry | null;
  lastRoute: string;
  appShownAt: number;
  setEntry(opts: EnterOptions | undefined): void;
}

/** Run `before` (guarded), then the original handler with its result and errors untouched. */
function hook(o: Options, name: string, host: Host, before: (self: PageThis, args: unknown[]) => void): void {
  const original = o[name] as Fn | undefined;
  o[name] = function (this: PageThis, ...args: unknown[]) {
    try {
      before(this, args);
    } catch (e) {
      host.client.log(e);
    }
    return typeof original === 'function' ? original.apply(this, args) : undefined;
  };
}

function guard(host: Host, fn: () => void): void {
  try {
    fn();
  } catch (e) {
    host.client.log(e);
  }
}

export function wrapApp(o: Options, host: Host): Options {
  if (!o || typeof o !== 'object') return o;
  const c = host.client;
  const enter = (name: string, opts: EnterOptions | undefined, on: boolean) => {
    host.setEntry(opts);
    if (!on) return;
    const e = host.entry as Entry;
    const props: Props = { $scene: e.scene, $url_path: e.path, $url_query: queryString(e.query) };
    if (e.shareTicket) props.$share_ticket = e.shareTicket;
    c.track(name, props);
  };
  const auto = host.auto;
  hook(o, 'onLaunch', host, (_, args) => enter('$MPLaunch', args[0] as EnterOptions, auto.appLaunch));
  hook(o, 'onShow', host, (_, args) => {
    host.appShownAt = Date.now();
    enter('$MPShow', args[0] as EnterOptions, auto.appShow);
  });
  hook(o, 'onHide', host, () => {
    if (auto.appHide) c.track('$MPHide', { event_duration: seconds(Date.now() - host.appShownAt) });
    void c.flush();
  });
  return o;
}

export function wrapPage(o: Options, host: Host): Options {
  if (!o || typeof o !== 'object') return o;
  const c = host.client;
  const auto = host.auto;
  const path = (self: PageThis) => '/' + String(self.route || '').replace(/^\//, '');
  const state = (self: PageThis) => (self.__siyu = self.__siyu || { query: {}, start: 0 });
  const leave = (self: PageThis) => {
    const s = state(self);
    if (!s.start || !auto.pageLeave) return;
    c.track('$MPPageLeave', { event_duration: seconds(Date.now() - s.start), $url_path: path(self) });
    s.start = 0;
  };

  if (auto.mpClick) {
    for (const name of Object.keys(o)) {
      if (typeof o[name] === 'function' && PAGE_HOOKS.indexOf(name) < 0) wrapHandler(o, name, host, path);
    }
  }
  hook(o, 'onLoad', host, (self, args) => {
    const q = (args[0] || {}) as Record<string, unknown>;
    const s = state(self);
    for (const k in q) s.query[k] = String(q[k]);
  });
  hook(o, 'onShow', host, (self) => {
    state(self).start = Date.now();
    const here = path(self);
    if (auto.pageShow) c.track('$MPViewScreen', { $url_path: here, $url_query: queryString(state(self).query), $referrer: host.lastRoute });
    host.lastRoute = here;
  });
  hook(o, 'onHide', host, leave);
  hook(o, 'onUnload', host, leave);

  const share = o.onShareAppMessage as Fn | undefined;
  if (typeof share === 'function') {
    o.onShareAppMessage = function (this: PageThis, ...args: unknown[]) {
      const result = share.apply(this, args) as Options | undefined;
      let out = result;
      guard(host, () => {
        const from = ((args[0] || {}) as Options).from;
        out = shareMessage(this, result, String(from || 'menu'), host, path);
      });
      return out;
    };
  }
  const timeline = o.onShareTimeline as Fn | undefined;
  if (typeof timeline === 'function') {
    o.onShareTimeline = function (this: PageThis, ...args: unknown[]) {
      const result = timeline.apply(this, args) as Options | undefined;
      let out = result;
      guard(host, () => {
        const r = result || {};
        const params = sharerParams(host);
        const query = withParams('?' + String(r.query || ''), params).slice(1);
        if (auto.pageShare) c.track('$MPShare', { $share_method: 'timeline', $url_path: path(this), $title: r.title }, { share: { sharer: params[SHARER_PARAM], depth: +params[DEPTH_PARAM], path: path(this) } });
        out = { ...r, query };
      });
      return out;
    };
  }
  const favorite = o.onAddToFavorites as Fn | undefined;
  if (typeof favorite === 'function') {
    o.onAddToFavorites = function (this: PageThis, ...args: unknown[]) {
      const result = favorite.apply(this, args) as Options | undefined;
      if (auto.mpFavorite) guard(host, () => c.track('$MPAddFavorites', { $url_path: path(this), $title: (result || {}).title }));
      return result;
    };
  }
  return o;
}

/** `siyu_sharer` / `siyu_depth` for a link this user shares: one level deeper than their entry. */
export function sharerParams(host: Host): Record<string, string> {
  const inbound = host.entry && host.entry.share;
  return { [SHARER_PARAM]: host.client.anonymousId, [DEPTH_PARAM]: String((inbound ? inbound.depth : 0) + 1) };
}

function shareMessage(self: PageThis, result: Options | undefined, from: string, host: Host, path: (p: PageThis) => string): Options {
  const r: Options = result && typeof result === 'object' ? result : {};
  const params = sharerParams(host);
  const inject = (msg: Options): Options => {
    const m = msg && typeof msg === 'object' ? msg : {};
    const q = queryString(self.__siyu ? self.__siyu.query : {});
    const base = typeof m.path === 'string' && m.path ? m.path : path(self) + (q ? '?' + q : '');
    return { ...m, path: withParams(base, params) };
  };
  const out = inject(r);
  const link = out.path as string;
  if (host.auto.pageShare) host.client.track(
    '$MPShare',
    { $share_method: from, $url_path: path(self), $share_url_path: link, $title: r.title },
    { share: { sharer: params[SHARER_PARAM], depth: +params[DEPTH_PARAM], path: link.split('?')[0] } },
  );
  // Newer base libraries let the page answer asynchronously through `promise`.
  if (r.promise && typeof (r.promise as Promise<Options>).then === 'function') {
    out.promise = (r.promise as Promise<Options>).then(inject);
  }
  return out;
}

function wrapHandler(o: Options, name: string, host: Host, path: (p: PageThis) => string): void {
  const original = o[name] as Fn;
  o[name] = function (this: PageThis, ...args: unknown[]) {
    const e = args[0] as { type?: string; currentTarget?: { id?: string; dataset?: Props } } | undefined;
    if (e && typeof e === 'object' && TAPS.indexOf(String(e.type)) >= 0 && e.currentTarget) {
      guard(host, () => {
        const t = e.currentTarget || {};
        const d = t.dataset || {};
        const props: Props = { $element_type: e.type, $element_name: name, $url_path: path(this) };
        if (t.id) props.$element_id = t.id;
        const content = d.content != null ? d.content : d.text;
        if (content != null) props.$element_content = clip(String(content), 255);
        host.client.track('$MPClick', props);
      });
    }
    return original.apply(this, args);
  };
}

function seconds(ms: number): number {
  return Math.max(0, Math.round(ms) / 1000);
}

export { entryOf };
