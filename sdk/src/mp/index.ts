/**
 * siyu for WeChat mini-programs. In app.js, before `App()`:
 *
 *   const siyu = require('./siyu.mp.js');
 *   siyu.init({ serverUrl: 'https://collect.example.com', writeKey: '…' });
 *
 * `init` wraps the global `App` and `Page` (turn off with `autoWrap: false` and wrap options
 * yourself with `siyu.App(...)` / `siyu.Page(...)`). No method throws.
 */
import { commonApi, type SiyuApi } from '../core/api';
import { Client, VERSION } from '../core/client';
import { safe } from '../core/safe';
import type { Options, Props } from '../core/types';
import { entryContext, entryOf } from './entry';
import { deviceProps, mpRandom, type Wx, wxStore, wxTransport } from './env';
import { type AutoTrack, autoTrackOf, type Host, sharerParams, wrapApp, wrapPage } from './wrap';

export interface MiniProgramOptions extends Options {
  /** The mini-program's appid, the namespace of `wx_openid` (default: from wx.getAccountInfoSync). */
  appId?: string;
  /** Replace the global `App`/`Page` with wrapping ones (default true). */
  autoWrap?: boolean;
  /**
   * Auto-captured events, with Sensors' defaults: `appLaunch`, `appShow`, `appHide`,
   * `pageShow`, `pageShare`, `mpFavorite` on; `mpClick` and `pageLeave` off. `false` turns
   * every one off.
   */
  autoTrack?: boolean | AutoTrack;
  /** The `wx` object (default: the global one; tests pass a simulated one). */
  wx?: Wx;
}

type Options_ = Record<string, unknown>;

/** The mini-program SDK: the shared code API plus `App`/`Page` wrapping. */
export interface SiyuMiniProgram extends SiyuApi {
  readonly version: string;
  /** Start: wraps the global `App`/`Page` (unless `autoWrap: false`). Only the first call counts. */
  init(options: MiniProgramOptions): void;
  /** Wrap `App` options yourself (when `autoWrap: false`). */
  App(options: Options_): Options_;
  /** Wrap `Page` options yourself (when `autoWrap: false`). */
  Page(options: Options_): Options_;
  /** Query parameters that make a link/QR code carry this user as sharer (one level deeper). */
  shareParams(): Record<string, string>;
}
type Ctor = (o: Options_) => unknown;

declare const wx: Wx | undefined;
declare let App: Ctor | undefined;
declare let Page: Ctor | undefined;
declare const getCurrentPages: (() => Array<{ route?: string }>) | undefined;

/** A further SDK instance (e.g. a second project in the same mini-program). */
export function createSdk(): SiyuMiniProgram {
  let host: Host | null = null;
  let appId = '';
  const log = (e: unknown) => host && host.client.log(e);

  function init(options: MiniProgramOptions): void {
    if (host) return;
    const w = options.wx || (typeof wx !== 'undefined' ? wx : undefined);
    if (!w) return;
    const device = deviceProps(w);
    let current: Host | null = null;
    const client = new Client(
      {
        platform: 'miniprogram',
        store: wxStore(w),
        transport: wxTransport(w),
        timers: { now: () => Date.now(), set: (fn, ms) => setTimeout(fn, ms), clear: (h) => clearTimeout(h as number) },
        queueKey: 'siyu_q',
        random: mpRandom,
        context: () => entryContext(current && current.entry),
        presets: () => ({ ...device, ...currentPage() }),
      },
      options,
    );
    current = host = {
      client,
      entry: null,
      lastRoute: '',
      appShownAt: Date.now(),
      auto: autoTrackOf(options.autoTrack),
      setEntry(opts) {
        this.entry = entryOf(opts);
      },
    };
    appId = options.appId || accountAppId(w);
    try {
      // The SDK may start after the app launched: take the entry from the launch options.
      if (w.getLaunchOptionsSync) host.setEntry(w.getLaunchOptionsSync());
    } catch (e) {
      client.log(e);
    }
    if (options.autoWrap !== false) {
      // Assign the free identifiers, as the host's `App({...})` / `Page({...})` calls read them.
      const h = host;
      if (typeof App === 'function') {
        const app = App;
        App = (o: Options_) => app(wrapApp(o, h));
      }
      if (typeof Page === 'function') {
        const page = Page;
        Page = (o: Options_) => page(wrapPage(o, h));
      }
    }
  }

  function currentPage(): Props {
    try {
      const pages = typeof getCurrentPages === 'function' ? getCurrentPages() : [];
      const top = pages && pages[pages.length - 1];
      return top && top.route ? { $url_path: '/' + top.route } : {};
    } catch {
      return {};
    }
  }

  /** `wx_openid` is stored per appid as `wx_openid:<appid>`; other types as given. */
  function identityKey(type: string): string {
    return type === 'wx_openid' && appId ? 'wx_openid:' + appId : type;
  }

  const withClient = <R>(fn: (c: Client) => R, fallback: R): R => (host ? fn(host.client) : fallback);

  return {
    version: VERSION,
    init: safe(init, undefined, log),
    ...commonApi(withClient, withClient, log, identityKey),
    App: safe((o: Options_) => (host ? wrapApp(o, host) : o), {} as Options_, log),
    Page: safe((o: Options_) => (host ? wrapPage(o, host) : o), {} as Options_, log),
    shareParams: safe(() => (host ? sharerParams(host) : {}), {} as Record<string, string>, log),
  };
}

function accountAppId(w: Wx): string {
  try {
    const info = w.getAccountInfoSync ? w.getAccountInfoSync() : null;
    return (info && info.miniProgram && info.miniProgram.appId) || '';
  } catch {
    return '';
  }
}

const siyu = createSdk();
export default siyu;
export { siyu };
export type { SiyuApi } from '../core/api';
export type { Options, Props, WireEvent } from '../core/types';
export type { AutoTrack } from './wrap';
