/**
 * Wrapping of `App` and `Page` options for auto-capture. The SDK part of every hook runs
 * guarded and before (or, for share hooks, around) the host's own handler; the host handler's
 * own result and exceptions pass through unchanged.
 */
import type { Client } from '../core/client';
import type { Props } from '../core/types';
import { withParams } from '../h5/page';
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

export interface Host {
  client: Client;
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
  const enter = (name: string, opts: EnterOptions | undefined) => {
    host.setEntry(opts);
    const e = host.entry as Entry;
    const props: Props = { $scene: e.scene, $url_path: e.path, $url_query: queryString(e.query) };
    if (e.shareTicket) props.$share_ticket = e.shareTicket;
    c.track(name, props);
  };
  hook(o, 'onLaunch', host, (_, args) => enter('$MPLaunch', args[0] as EnterOptions));
  hook(o, 'onShow', host, (_, args) => {
    host.appShownAt = Date.now();
    enter('$MPShow', args[0] as EnterOptions);
  });
  hook(o, 'onHide', host, () => {
    c.track('$MPHide', { event_duration: seconds(Date.now() - host.appShownAt) });
    void c.flush();
  });
  return o;
}

export function wrapPage(o: Options, host: Host): Options {
  if (!o || typeof o !== 'object') return o;
  const c = host.client;
  const path = (self: PageThis) => '/' + String(self.route || '').replace(/^\//, '');
  const state = (self: PageThis) => (self.__siyu = self.__siyu || { query: {}, start: 0 });
  const leave = (self: PageThis) => {
    const s = state(self);
    if (!s.start) return;
    c.track('$MPPageLeave', { event_duration: seconds(Date.now() - s.start), $url_path: path(self) });
    s.start = 0;
  };

  for (const name of Object.keys(o)) {
    if (typeof o[name] === 'function' && PAGE_HOOKS.indexOf(name) < 0) wrapHandler(o, name, host, path);
  }
  hook(o, 'onLoad', host, (self, args) => {
    const q = (args[0] || {}) as Record<string, unknown>;
    const s = state(self);
    for (const k in q) s.query[k] = String(q[k]);
  });
  hook(o, 'onShow', host, (self) => {
    state(self).start = Date.now();
    const here = path(self);
    c.track('$MPViewScreen', { $url_path: here, $url_query: queryString(state(self).query), $referrer: host.lastRoute });
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
        c.track('$MPShare', { $share_method: 'timeline', $url_path: path(this), $title: r.title }, { share: { sharer: params[SHARER_PARAM], depth: +params[DEPTH_PARAM], path: path(this) } });
        out = { ...r, query };
      });
      return out;
    };
  }
  const favorite = o.onAddToFavorites as Fn | undefined;
  if (typeof favorite === 'function') {
    o.onAddToFavorites = function (this: PageThis, ...args: unknown[]) {
      const result = favorite.apply(this, args) as Options | undefined;
      guard(host, () => c.track('$MPAddFavorites', { $url_path: path(this), $title: (result || {}).title }));
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
  host.client.track(
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
        if (content != null) props.$element_content = String(content).slice(0, 255);
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
