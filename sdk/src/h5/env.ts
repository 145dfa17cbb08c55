/** Browser plumbing for the core: localStorage (cookie and memory fallbacks), fetch + sendBeacon. */
import { utf8Bytes, weakRandom } from '../core/ids';
import { BEACON_BYTES } from '../core/client';
import type { KeyValueStore, Timers, Transport } from '../core/types';

export function memoryStore(): KeyValueStore {
  const data: Record<string, string> = {};
  return {
    get: (k) => (k in data ? data[k] : null),
    set: (k, v) => {
      data[k] = v;
      return true;
    },
    remove: (k) => {
      delete data[k];
    },
    keys: () => Object.keys(data),
  };
}

/** localStorage when it works (it throws in some private modes and sandboxed frames). */
export function browserStore(): KeyValueStore {
  let ls: Storage | null = null;
  try {
    ls = window.localStorage;
    ls.setItem('siyu_probe', '1');
    ls.removeItem('siyu_probe');
  } catch {
    return memoryStore();
  }
  const s = ls;
  return {
    get: (k) => {
      try {
        return s.getItem(k);
      } catch {
        return null;
      }
    },
    set: (k, v) => {
      try {
        s.setItem(k, v);
        return true;
      } catch {
        return false; // quota exceeded
      }
    },
    remove: (k) => {
      try {
        s.removeItem(k);
      } catch {
        // nothing to do: storage went away
      }
    },
    keys: () => {
      const out: string[] = [];
      try {
        for (let i = 0; i < s.length; i++) out.push(s.key(i) as string);
      } catch {
        // storage went away
      }
      return out;
    },
  };
}

export function readCookie(name: string): string | null {
  try {
    const m = document.cookie.match(new RegExp('(?:^|; )' + name + '=([^;]*)'));
    return m ? decodeURIComponent(m[1]) : null;
  } catch {
    return null;
  }
}

/** A first-party cookie for two years (`domain` shares it across subdomains). */
export function writeCookie(name: string, value: string, domain?: string): void {
  try {
    document.cookie =
      name + '=' + encodeURIComponent(value) + '; path=/; max-age=63072000; SameSite=Lax' + (domain ? '; domain=' + domain : '');
  } catch {
    // cookies disabled
  }
}

function withKey(url: string, key: string): string {
  return url + (url.indexOf('?') >= 0 ? '&' : '?') + 'key=' + encodeURIComponent(key);
}

/**
 * POST with a `text/plain` body and the key in the query string: a CORS "simple request",
 * so the browser sends no preflight (one round trip per batch, not two).
 */
export function browserTransport(): Transport {
  return {
    send(url, body, key) {
      try {
        return fetch(withKey(url, key), {
          method: 'POST',
          body,
          headers: { 'Content-Type': 'text/plain;charset=UTF-8' },
          credentials: 'omit',
          // keepalive requests share the beacon's 64 KiB budget; a larger one would fail outright.
          keepalive: utf8Bytes(body) < BEACON_BYTES,
        }).then(
          (r) => r.status,
          () => 0,
        );
      } catch {
        return Promise.resolve(0);
      }
    },
    beacon(url, body, key) {
      try {
        return !!navigator.sendBeacon && navigator.sendBeacon(withKey(url, key), body);
      } catch {
        return false;
      }
    },
  };
}

export const browserTimers: Timers = {
  now: () => Date.now(),
  set: (fn, ms) => setTimeout(fn, ms),
  clear: (h) => clearTimeout(h as number),
};

export function browserRandom(n: number): Uint8Array {
  try {
    return crypto.getRandomValues(new Uint8Array(n));
  } catch {
    return weakRandom(n);
  }
}
