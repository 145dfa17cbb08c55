// Drives the real sa-sdk-miniprogram in node with a simulated `wx` against a siyu collector.
// Usage: node mp_sdk.mjs <collector base url> <run id> <batch|single> <gzip|plain>
// Prints one JSON line: the SDK's ids and every request it made with the answer.
// With SDK_TEXTS (JSON {case: text}) in the environment, it also tracks one `unicode_text`
// event per case ({case_id, value, list: [value]}) and a profile with them, with the SDK's
// max_string_length raised to 12000 so that long strings are sent whole; and one
// `cut_text` event whose value the SDK itself cuts at those 12000 UTF-16 units, between
// the two halves of an emoji (the SDK's formatString uses String.slice).
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const [collector, runId, mode, encoding] = process.argv.slice(2);
const texts = process.env.SDK_TEXTS ? JSON.parse(process.env.SDK_TEXTS) : null;
const appId = "wxsdkcompat";
const storage = new Map();
const requests = [];
let pending = 0;
const showCallbacks = [];
const launchOptions = {
  scene: 1007,
  path: "pages/index/index",
  query: { sensors_share_d: `${runId}-sharer`, sensors_share_p: "/pages/index/index" },
};
const hideCallbacks = [];

const call = (opts, result, ok = true) => {
  setTimeout(() => {
    if (ok && opts.success) opts.success(result);
    if (!ok && opts.fail) opts.fail(result);
    if (opts.complete) opts.complete(result);
  }, 0);
};
const systemInfo = {
  brand: "Apple", model: "iPhone 15", platform: "ios", system: "iOS 17.0", version: "8.0.44",
  SDKVersion: "3.3.4", screenWidth: 390, screenHeight: 844, windowWidth: 390,
  windowHeight: 750, pixelRatio: 3, language: "zh_CN",
};

globalThis.wx = {
  getStorageSync: (key) => (storage.has(key) ? storage.get(key) : ""),
  setStorageSync: (key, value) => storage.set(key, value),
  getStorage: (opts) => call(opts, { data: storage.get(opts.key) }, storage.has(opts.key)),
  setStorage: (opts) => { storage.set(opts.key, opts.data); call(opts, {}); },
  getSystemInfo: (opts) => call(opts, systemInfo),
  getSystemInfoSync: () => systemInfo,
  getNetworkType: (opts) => call(opts, { networkType: "wifi" }),
  onNetworkStatusChange: () => {},
  onAppShow: (callback) => showCallbacks.push(callback),
  onAppHide: (callback) => hideCallbacks.push(callback),
  getAccountInfoSync: () => ({ miniProgram: { appId, envVersion: "develop", version: "1.0.0" } }),
  getLaunchOptionsSync: () => launchOptions,
  login: (opts) => call(opts, { code: "code" }),
  setNavigationBarTitle: () => {},
  request: (opts) => {
    pending += 1;
    const headers = { ...(opts.header || {}) };
    const method = (opts.method || "GET").toUpperCase();
    fetch(opts.url, { method, headers, body: method === "GET" ? undefined : opts.data })
      .then(async (answer) => {
        const text = await answer.text();
        requests.push({ method, url: opts.url.slice(0, 200), status: answer.status,
                        body: String(opts.data || "").slice(0, 60), answer: text.slice(0, 300) });
        call(opts, { statusCode: answer.status, data: text });
      })
      .catch((error) => {
        requests.push({ method, url: opts.url, error: String(error) });
        call(opts, { errMsg: String(error) }, false);
      })
      .finally(() => { pending -= 1; });
  },
};
globalThis.App = (options) => options;
globalThis.Page = (options) => options;
globalThis.Component = (options) => options;
let currentPages = [{ route: "pages/index/index", options: {} }];
globalThis.getCurrentPages = () => currentPages;

const sa = require("sa-sdk-miniprogram/dist/wechat/sensorsdata.cjs.js");
if (encoding === "gzip") {
  sa.usePlugin(require("sa-sdk-miniprogram/dist/wechat/plugin/gzip/index.cmd.js"));
}
sa.setPara({
  name: "sensors",
  server_url: `${collector}/sa?project=default`,
  batch_send: mode === "batch",
  autoTrack: { appLaunch: true, appShow: true, appHide: true, pageShow: true, pageShare: true },
  show_log: false,
  ...(texts ? { max_string_length: 12000 } : {}),
});
sa.init();

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
App({ onLaunch() {}, onShow() {}, onHide() {} });
// WeChat calls wx.onAppShow listeners when the app starts: the SDK sends $MPLaunch + $MPShow.
for (const callback of showCallbacks) callback(launchOptions);
await sleep(300);
currentPages = [{ route: "pages/item/item", options: { id: "p1" } }];
sa.track("view_product", { product_id: `${runId}-p1`, price: 12.5, tags: ["a", "b"],
                           detail: { color: "red" }, when: new Date(2026, 10, 1, 8, 30, 0) });
sa.login(`${runId}-user`);
sa.setOpenid(`${runId}-openid`);
sa.setUnionid(`${runId}-unionid`);
sa.track("pay_order", { order_id: `${runId}-o1`, amount: 99 });
sa.setProfile({ vip: true, city: "深圳" });
if (texts) {
  for (const [name, text] of Object.entries(texts)) {
    sa.track("unicode_text", { case_id: name, value: text, list: [text] });
  }
  sa.setProfile({ nickname: texts.zwj, signature: texts.rtl });
  sa.track("cut_text", { value: "a".repeat(11999) + "😀" });
}
await sleep(300);
// Hide the app (flushes the batch), then wait until every queued event has been sent.
const deadline = Date.now() + 30000;
for (const callback of hideCallbacks) callback({});
for (let quiet = 0; quiet < 6 && Date.now() < deadline; ) {
  await sleep(500);
  const queued = sa.store.mem.getLength();
  quiet = pending === 0 && queued === 0 ? quiet + 1 : 0;
}
process.stdout.write(JSON.stringify({
  anonymous_id: sa.getAnonymousID(),
  identities: sa.getIdentities(),
  distinct_id: sa.store.getDistinctId(),
  requests,
}) + "\n");
process.exit(0);
