// Test doubles: a fake environment for the core, and a simulated WeChat runtime that loads the
// shipped dist/miniprogram/index.js the way a mini-program does (a fresh global scope per "app").
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import vm from 'node:vm';

const MP_BUILD = new URL('../dist/miniprogram/index.js', import.meta.url);

export function memoryStore(data = new Map()) {
  return {
    data,
    get: (k) => (data.has(k) ? data.get(k) : null),
    set: (k, v) => (data.set(k, v), true),
    remove: (k) => void data.delete(k),
    keys: () => [...data.keys()],
  };
}

/** Timers that run only when the test says so; `delays` records every scheduled delay. */
export function manualTimers(start = 1_764_000_000_000) {
  let now = start;
  let next = 1;
  const pending = new Map();
  return {
    delays: [],
    now: () => now,
    set(fn, ms) {
      this.delays.push(ms);
      const id = next++;
      pending.set(id, { fn, at: now + ms });
      return id;
    },
    clear: (id) => void pending.delete(id),
    /** Advance the clock by `ms`, running due timers (and letting their promises settle). */
    async advance(ms) {
      now += ms;
      for (const [id, t] of [...pending]) {
        if (t.at <= now) {
          pending.delete(id);
          t.fn();
        }
      }
      await settle();
    },
    get pending() {
      return pending.size;
    },
  };
}

export async function settle() {
  for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
}

/** A collector stand-in: answers with scripted statuses (then 200), keeps every body. */
export function fakeCollector(statuses = []) {
  const bodies = [];
  const script = [...statuses];
  return {
    bodies,
    events: () => bodies.flatMap((b) => b.events),
    delivered: [],
    respond(body) {
      const doc = JSON.parse(body);
      bodies.push(doc);
      const status = script.length ? script.shift() : 200;
      if (status === 'throw') throw new Error('transport broke');
      if (status >= 200 && status < 300) this.delivered.push(...doc.events);
      return status;
    },
  };
}

export function fakeEnv({ store = memoryStore(), timers = manualTimers(), collector = fakeCollector(), queueKey = 'siyu_q', adopt = false } = {}) {
  return {
    platform: 'h5',
    store,
    timers,
    queueKey,
    adopt,
    transport: { send: async (url, body) => collector.respond(body) },
    random: (n) => new Uint8Array(randomBytes(n)),
    context: () => ({ utm: { source: 'test' } }),
    presets: () => ({ $url_path: '/here' }),
  };
}

/**
 * A simulated WeChat runtime: wx (storage, request), App/Page registration, and helpers to
 * drive lifecycles the way the base library does. `server(body)` answers requests.
 */
export function wechat({ storage = new Map(), server = fakeCollector(), appId = 'wxtest', launch = {}, request = null } = {}) {
  const registered = { app: null, pages: {} };
  const stack = [];
  const wx = {
    getStorageSync: (k) => (storage.has(k) ? storage.get(k) : ''),
    setStorageSync: (k, v) => void storage.set(k, v),
    removeStorageSync: (k) => void storage.delete(k),
    request(opts) {
      if (request) return request(opts);
      setImmediate(() => {
        let status;
        try {
          status = server.respond(opts.data, opts.header);
        } catch {
          return opts.fail({ errMsg: 'request:fail' });
        }
        if (status === 0) opts.fail({ errMsg: 'request:fail' });
        else opts.success({ statusCode: status, data: {} });
      });
    },
    getAccountInfoSync: () => ({ miniProgram: { appId } }),
    getLaunchOptionsSync: () => ({ path: 'pages/index/index', scene: 1001, query: {}, ...launch }),
    getSystemInfoSync: () => ({ brand: 'devtools', model: 'iPhone 15', system: 'iOS 17.0', screenWidth: 390, screenHeight: 844 }),
  };
  const context = vm.createContext({
    wx,
    App: (o) => void (registered.app = o),
    Page: (o) => void (registered.pages[o.__route || 'unknown'] = o),
    getCurrentPages: () => stack,
    // Pending retries must not keep the test process alive.
    setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
    clearTimeout,
    console,
    module: { exports: {} },
  });
  context.exports = context.module.exports;
  vm.runInContext(readFileSync(MP_BUILD, 'utf8'), context, { filename: 'siyu-miniprogram.js' });
  const siyu = context.module.exports;
  const appInstance = {};
  return {
    wx,
    storage,
    server,
    siyu,
    /** The host app's own `App({...})` call (through the wrapped global, as in app.js). */
    app: (options) => vm.runInContext('App', context)(options),
    /** The host page's own `Page({...})` call for `route`. */
    page: (route, options) => vm.runInContext('Page', context)({ ...options, __route: route }),
    launch(opts) {
      registered.app.onLaunch && registered.app.onLaunch.call(appInstance, opts);
      registered.app.onShow && registered.app.onShow.call(appInstance, opts);
    },
    hideApp: () => registered.app.onHide.call(appInstance),
    showApp: (opts) => registered.app.onShow.call(appInstance, opts),
    /** Open a page: an instance with the page's methods, then onLoad(query) and onShow(). */
    open(route, query = {}) {
      const options = registered.pages[route];
      const inst = { route, data: options.data };
      for (const k of Object.keys(options)) if (typeof options[k] === 'function') inst[k] = options[k];
      stack.push(inst);
      inst.onLoad && inst.onLoad(query);
      inst.onShow && inst.onShow();
      return inst;
    },
    close(inst) {
      inst.onUnload && inst.onUnload();
      stack.splice(stack.indexOf(inst), 1);
    },
    tap: (inst, handler, target = {}) => inst[handler]({ type: 'tap', currentTarget: { dataset: {}, ...target }, target: {} }),
  };
}

/** Plain data (objects from the vm realm have other prototypes). */
export const plain = (v) => JSON.parse(JSON.stringify(v));
