// Drives the shipped mini-program build (dist/miniprogram/index.js) in a simulated WeChat
// runtime whose wx.request posts to a real collector, and prints the ids it saw as one JSON line.
// Usage: node e2e/mp-drive.mjs '{"serverUrl": …, "writeKey": …, "run": …, "casesFile": …,
// "lookupUrl": …, "readKey": …}'; casesFile holds {cases: [{event, properties}], profile: {…}}
// for user C; with lookupUrl, B opens A's card once the lookup API knows A.
import { readFileSync } from 'node:fs';
import { wechat } from '../test/helpers.mjs';

const cfg = JSON.parse(process.argv[2]);
const APPID = 'wxe2e';

/** wx.request over fetch: the collector answers, as it would a phone. */
function request(opts) {
  fetch(opts.url, { method: opts.method, body: opts.data, headers: opts.header }).then(
    (r) => opts.success({ statusCode: r.status, data: {} }),
    (e) => opts.fail({ errMsg: String(e) }),
  );
}

function miniProgram(autoTrack = { mpClick: true }) {
  const rt = wechat({ appId: APPID, request });
  rt.siyu.init({ serverUrl: cfg.serverUrl, writeKey: cfg.writeKey, flushInterval: 50, autoTrack });
  rt.app({ onLaunch() {}, onShow() {}, onHide() {} });
  rt.page('pages/item/item', {
    data: {},
    onShareAppMessage: () => ({ title: 'Item 7', path: '/pages/item/item?id=7' }),
    addToCart() {},
  });
  return rt;
}

/**
 * Waits until the lookup API knows an anonymous id. A card is opened seconds after it was
 * shared, by which time the pipeline knows the sharer; a share naming a sharer it does not
 * know yet is not credited (a documented limit), so B waits for A as a real B would.
 */
async function known(anon) {
  const url = `${cfg.lookupUrl}/v1/users/anonymous_id/${encodeURIComponent(anon)}`;
  for (let i = 0; i < 300; i += 1) {
    const r = await fetch(url, { headers: { 'X-Siyu-Key': cfg.readKey } });
    if (r.status === 200) return;
    await new Promise((done) => setTimeout(done, 200));
  }
  throw new Error(`the lookup API never knew ${anon}`);
}

const out = { run: cfg.run };
const a = miniProgram();
a.launch({ path: 'pages/item/item', scene: 1001, query: { id: '7' } });
a.siyu.setIdentity('wx_openid', `oA-${cfg.run}`);
const itemA = a.open('pages/item/item', { id: '7' });
a.tap(itemA, 'addToCart', { id: 'cart-btn', dataset: { content: 'Add to cart' } });
const shared = itemA.onShareAppMessage({ from: 'button' });
out.anonA = a.siyu.getAnonymousId();
out.sharedPath = shared.path;
a.hideApp();
await a.siyu.flush();
if (cfg.lookupUrl) await known(out.anonA);

// B opens A's card from a chat (scene 1007); the card's path query arrives as launch query.
const query = Object.fromEntries(new URLSearchParams(shared.path.split('?')[1]));
const b = miniProgram();
b.launch({ path: 'pages/item/item', scene: 1007, query });
b.siyu.setIdentity('wx_openid', `oB-${cfg.run}`);
b.open('pages/item/item', query);
b.siyu.track('view_product', { product_id: '7', run: cfg.run });
out.anonB = b.siyu.getAnonymousId();

// C opens an unlimited mini-program code (scene 1047) whose scene names a live code, a
// material and a channel; sends the Unicode cases and user properties (Sensors' defaults).
const { cases, profile } = JSON.parse(readFileSync(cfg.casesFile, 'utf8'));
const c = miniProgram({}); // Sensors' defaults
const scene = encodeURIComponent(`qr=Q-${cfg.run}&mat=M-${cfg.run}&ch=poster`);
c.launch({ path: 'pages/item/item', scene: 1047, query: { scene } });
const itemC = c.open('pages/item/item', { scene });
c.tap(itemC, 'addToCart', { id: 'cart-btn' }); // $MPClick is off by default
c.close(itemC); // $MPPageLeave is off by default
for (const e of cases) c.siyu.track(e.event, e.properties);
c.siyu.login(`mp-c-${cfg.run}`);
c.siyu.setProfile(profile);
out.anonC = c.siyu.getAnonymousId();

await Promise.all([a.siyu.flush(), b.siyu.flush(), c.siyu.flush()]);
out.queuedA = a.siyu.queued();
out.queuedB = b.siyu.queued();
out.queuedC = c.siyu.queued();
console.log(JSON.stringify(out));
