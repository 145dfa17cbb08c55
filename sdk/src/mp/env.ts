/** Mini-program plumbing for the core: wx storage, wx.request transport, device presets. */
import { weakRandom } from '../core/ids';
import type { KeyValueStore, Props, Transport } from '../core/types';

/** The slice of the `wx` API the SDK uses. */
export interface Wx {
  getStorageSync(key: string): unknown;
  setStorageSync(key: string, value: string): void;
  removeStorageSync(key: string): void;
  request(opts: {
    url: string;
    method: string;
    data: string;
    header: Record<string, string>;
    timeout?: number;
    success(res: { statusCode: number }): void;
    fail(err: unknown): void;
  }): void;
  getAccountInfoSync?(): { miniProgram?: { appId?: string } };
  getLaunchOptionsSync?(): EnterOptions;
  getDeviceInfo?(): Props;
  getWindowInfo?(): Props;
  getSystemInfoSync?(): Props;
}

export interface EnterOptions {
  path?: string;
  scene?: number;
  query?: Record<string, string>;
  shareTicket?: string;
  referrerInfo?: { appId?: string };
}

export function wxStore(wx: Wx): KeyValueStore {
  return {
    get(k) {
      try {
        const v = wx.getStorageSync(k);
        return typeof v === 'string' && v ? v : null;
      } catch {
        return null;
      }
    },
    set(k, v) {
      try {
        wx.setStorageSync(k, v);
        return true;
      } catch {
        return false; // storage full (10 MB per mini-program)
      }
    },
    remove(k) {
      try {
        wx.removeStorageSync(k);
      } catch {
        // nothing to remove
      }
    },
  };
}

// wx.request has no default deadline worth relying on; a hung request would stall the queue.
const REQUEST_TIMEOUT_MS = 15000;

export function wxTransport(wx: Wx): Transport {
  return {
    send(url, body, key) {
      return new Promise((resolve) => {
        try {
          wx.request({
            url,
            method: 'POST',
            data: body,
            header: { 'content-type': 'application/json', 'X-Siyu-Key': key },
            timeout: REQUEST_TIMEOUT_MS,
            success: (res) => resolve(res && typeof res.statusCode === 'number' ? res.statusCode : 0),
            fail: () => resolve(0),
          });
        } catch {
          resolve(0);
        }
      });
    },
  };
}

/** Device facts sent with every event, read once. */
export function deviceProps(wx: Wx): Props {
  try {
    const d = (wx.getDeviceInfo ? wx.getDeviceInfo() : wx.getSystemInfoSync ? wx.getSystemInfoSync() : {}) || {};
    const w = (wx.getWindowInfo ? wx.getWindowInfo() : d) || {};
    const system = String(d.system || '');
    const out: Props = {};
    if (d.brand) out.$brand = d.brand;
    if (d.model) out.$model = d.model;
    if (system) {
      out.$os = system.split(' ')[0];
      out.$os_version = system.split(' ').slice(1).join(' ');
    }
    if (w.screenWidth) out.$screen_width = w.screenWidth;
    if (w.screenHeight) out.$screen_height = w.screenHeight;
    return out;
  } catch {
    return {};
  }
}

export function mpRandom(n: number): Uint8Array {
  try {
    const c = (globalThis as { crypto?: Crypto }).crypto;
    if (c && c.getRandomValues) return c.getRandomValues(new Uint8Array(n));
  } catch {
    // no crypto in this base library
  }
  return weakRandom(n);
}
