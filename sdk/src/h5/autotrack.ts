/**
 * H5 auto-capture: `$pageview` (landing, history API and hash routes, back/forward cache),
 * `$WebClick`, `$WebStay` (a visible stretch ended by hiding the page) and `$WebPageLeave`
 * (a route change or the page going away), with `event_duration` in seconds.
 * Every handler is guarded: a failure here never reaches the host page.
 */
import type { Client } from '../core/client';
import type { Props } from '../core/types';
import { clickTarget, describeElement, hostOf } from './page';

export interface AutoTrackOptions {
  pageview?: boolean;
  click?: boolean;
  stay?: boolean;
}

interface PageRecord {
  url: string;
  path: string;
  title: string;
  start: number;
}

export class AutoTracker {
  private page: PageRecord | null = null;
  private visibleSince: number;
  private hidden = false;

  constructor(
    private client: Client,
    private opts: AutoTrackOptions,
    private onRoute: () => void,
  ) {
    this.visibleSince = Date.now();
  }

  start(): void {
    const w = window;
    const guarded = (fn: (e: Event) => void) => (e: Event) => {
      try {
        fn.call(this, e);
      } catch (err) {
        this.client.log(err);
      }
    };
    if (this.opts.pageview !== false) {
      this.pageview(document.referrer);
      for (const name of ['pushState', 'replaceState'] as const) {
        const original = history[name];
        const tracker = this;
        history[name] = function (this: History, ...args: Parameters<History['pushState']>) {
          const result = original.apply(this, args);
          guarded(tracker.routeChanged)(new Event(name));
          return result;
        };
      }
      w.addEventListener('popstate', guarded(this.routeChanged));
      w.addEventListener('hashchange', guarded(this.routeChanged));
      w.addEventListener('pageshow', guarded(this.pageShown));
    }
    if (this.opts.click !== false) document.addEventListener('click', guarded(this.clicked), true);
    document.addEventListener('visibilitychange', guarded(this.visibilityChanged));
    w.addEventListener('pagehide', guarded(this.pageHidden));
  }

  /** Track a page view of the current location (also the public `trackPageview`). */
  pageview(referrer: string, props?: Props): void {
    this.onRoute();
    this.page = { url: location.href, path: location.pathname, title: document.title, start: Date.now() };
    this.client.track('$pageview', {
      $referrer: referrer || '',
      $referrer_host: hostOf(referrer),
      $url_query: location.search.slice(1),
      $url_hash: location.hash,
      ...props,
    });
  }

  private routeChanged(): void {
    const previous = this.page;
    if (previous && previous.url === location.href) return;
    this.leave();
    this.pageview(previous ? previous.url : document.referrer);
  }

  private pageShown(e: Event): void {
    // Restored from the back/forward cache: a new visit of the same page.
    if ((e as PageTransitionEvent).persisted) {
      this.client.queue.save(); // take the released queue back
      this.hidden = false;
      this.visibleSince = Date.now();
      this.pageview(document.referrer);
    }
  }

  private clicked(e: Event): void {
    const el = clickTarget(e.target);
    if (el) this.client.track('$WebClick', describeElement(el));
  }

  private visibilityChanged(): void {
    if (document.visibilityState === 'hidden') {
      if (!this.hidden && this.opts.stay !== false) {
        this.client.track('$WebStay', {
          event_duration: seconds(Date.now() - this.visibleSince),
          $viewport_position: Math.round(window.scrollY || 0),
          $viewport_height: window.innerHeight,
        });
      }
      this.hidden = true;
      this.client.beacon();
    } else {
      this.hidden = false;
      this.visibleSince = Date.now();
    }
  }

  private pageHidden(): void {
    this.leave();
    this.client.beacon();
    this.client.release();
  }

  private leave(): void {
    const p = this.page;
    if (!p || this.opts.stay === false) return;
    this.page = null;
    this.client.track('$WebPageLeave', {
      event_duration: seconds(Date.now() - p.start),
      $url: p.url,
      $url_path: p.path,
      $title: p.title,
    });
  }
}

function seconds(ms: number): number {
  return Math.max(0, Math.round(ms) / 1000);
}
