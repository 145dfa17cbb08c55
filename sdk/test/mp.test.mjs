// The shipped dist/siyu.mp.js in a simulated WeChat runtime (see helpers.mjs).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fakeCollector, plain, settle, wechat } from './helpers.mjs';

const INIT = { serverUrl: 'https://collector.test', writeKey: 'wk', flushInterval: 5 };

/** A mini-program with one app, an index page with a tap handler, and a shareable item page. */
function miniProgram(opts = {}) {
  const rt = wechat(opts);
  rt.siyu.init({ ...INIT, ...opts.init, wx: rt.wx });
  rt.calls = [];
  rt.app({ onLaunch: () => rt.calls.push('app.onLaunch'), onShow: () => rt.calls.push('app.onShow'), onHide() {} });
  rt.page('pages/index/index', {
    data: {},
    onShow: () => rt.calls.push('index.onShow'),
    buy(e) {
      rt.calls.push('buy:' + e.currentTarget.dataset.sku);
      return 'bought';
    },
    broken() {
      throw new Error('host bug');
    },
  });
  rt.page('pages/item/item', {
    onShareAppMessage: () => ({ title: 'Nice item', path: '/pages/item/item?id=7' }),
    onShareTimeline: () => ({ title: 'Nice item', query: 'id=7' }),
    onAddToFavorites: () => ({ title: 'Nice item' }),
  });
  return rt;
}

async function sent(rt) {
  await rt.siyu.flush();
  await settle();
  return rt.server.delivered.map(plain);
}

const named = (events, name) => events.filter((e) => e.event === name);

describe('auto-capture', () => {
  test('launch, show, page views, page leave and hide, with scene and query', async () => {
    const rt = miniProgram();
    rt.launch({ path: 'pages/index/index', scene: 1047, query: { qr_id: 'q9', utm_source: 'poster' } });
    const index = rt.open('pages/index/index', { qr_id: 'q9' });
    rt.close(index);
    rt.hideApp();
    const events = await sent(rt);
    assert.deepEqual(
      events.map((e) => e.event),
      ['$MPLaunch', '$MPShow', '$MPViewScreen', '$MPPageLeave', '$MPHide'],
    );
    const [launch, , view, leave, hide] = events;
    assert.equal(launch.platform, 'miniprogram');
    assert.equal(launch.properties.$scene, 1047);
    assert.equal(launch.properties.$url_query, 'qr_id=q9&utm_source=poster');
    assert.equal(view.context.scene, 1047);
    assert.deepEqual(view.context.utm, { source: 'poster' });
    assert.equal(view.properties.$url_path, '/pages/index/index');
    assert.equal(view.properties.$url_query, 'qr_id=q9');
    assert.equal(view.properties.$model, 'iPhone 15');
    assert.equal(typeof leave.properties.event_duration, 'number');
    assert.equal(typeof hide.properties.event_duration, 'number');
    assert.deepEqual(rt.calls, ['app.onLaunch', 'app.onShow', 'index.onShow'], 'host hooks still run');
    assert.equal(rt.server.bodies.length >= 1, true);
  });

  test('tap handlers produce $MPClick and keep their result; host errors still reach the host', async () => {
    const rt = miniProgram();
    rt.launch({ path: 'pages/index/index', scene: 1001, query: {} });
    const index = rt.open('pages/index/index');
    const result = rt.tap(index, 'buy', { id: 'buy-btn', dataset: { sku: 's1', content: 'Buy now' } });
    assert.equal(result, 'bought');
    assert.throws(() => index.broken(), /host bug/);
    const click = named(await sent(rt), '$MPClick')[0];
    assert.deepEqual(
      [click.properties.$element_id, click.properties.$element_name, click.properties.$element_content, click.properties.$url_path],
      ['buy-btn', 'buy', 'Buy now', '/pages/index/index'],
    );
    assert.ok(rt.calls.includes('buy:s1'));
  });

  test('favorites and timeline shares are captured', async () => {
    const rt = miniProgram();
    rt.launch({ path: 'pages/item/item', scene: 1001, query: {} });
    const item = rt.open('pages/item/item', { id: '7' });
    assert.deepEqual(plain(item.onAddToFavorites()), { title: 'Nice item' });
    const timeline = plain(item.onShareTimeline());
    const events = await sent(rt);
    assert.equal(named(events, '$MPAddFavorites')[0].properties.$title, 'Nice item');
    assert.equal(timeline.query, `id=7&siyu_sharer=${rt.siyu.getAnonymousId()}&siyu_depth=1`);
    assert.equal(named(events, '$MPShare')[0].properties.$share_method, 'timeline');
  });
});

describe('fission', () => {
  test('a share injects sharer and depth; the receiver carries context.share; depth grows down the chain', async () => {
    const a = miniProgram({ appId: 'wxshop' });
    a.launch({ path: 'pages/item/item', scene: 1001, query: { id: '7' } });
    const itemA = a.open('pages/item/item', { id: '7' });
    const message = plain(itemA.onShareAppMessage({ from: 'button' }));
    const anonA = a.siyu.getAnonymousId();
    assert.equal(message.title, 'Nice item');
    assert.equal(message.path, `/pages/item/item?id=7&siyu_sharer=${anonA}&siyu_depth=1`);
    const shareA = named(await sent(a), '$MPShare')[0];
    assert.deepEqual(shareA.context.share, { sharer: anonA, depth: 1, path: '/pages/item/item' });
    assert.equal(shareA.properties.$share_method, 'button');

    // B opens A's card (scene 1007): query from the shared path.
    const query = Object.fromEntries(new URLSearchParams(message.path.split('?')[1]));
    const b = miniProgram({ appId: 'wxshop' });
    b.launch({ path: 'pages/item/item', scene: 1007, query });
    const itemB = b.open('pages/item/item', query);
    b.siyu.track('view_product', { product_id: '7' });
    const messageB = plain(itemB.onShareAppMessage({ from: 'menu' }));
    const eventsB = await sent(b);
    for (const e of eventsB.filter((e) => e.event !== '$MPShare')) {
      assert.deepEqual(e.context.share, { sharer: anonA, depth: 1, path: '/pages/item/item' }, e.event);
      assert.equal(e.context.scene, 1007);
    }
    const anonB = b.siyu.getAnonymousId();
    assert.notEqual(anonA, anonB);
    assert.match(messageB.path, new RegExp(`siyu_sharer=${anonB}&siyu_depth=2$`));
    assert.deepEqual(named(eventsB, '$MPShare')[0].context.share, { sharer: anonB, depth: 2, path: '/pages/item/item' });
  });

  test('a page without a share handler does not become shareable', () => {
    const rt = miniProgram();
    rt.launch({ path: 'pages/index/index', scene: 1001, query: {} });
    const index = rt.open('pages/index/index');
    assert.equal(index.onShareAppMessage, undefined);
  });
});

describe('identity', () => {
  test('openid is namespaced by appid; identify links anonymous, openid and login ids', async () => {
    const rt = miniProgram({ appId: 'wxshop' });
    rt.launch({ path: 'pages/index/index', scene: 1001, query: {} });
    rt.siyu.setIdentity('wx_openid', 'oOPEN1');
    rt.siyu.setIdentity('wx_unionid', 'uUNION1');
    rt.siyu.identify('member-7');
    const events = await sent(rt);
    const identify = events.filter((e) => e.type === 'identify');
    assert.equal(identify.length, 3);
    assert.deepEqual(identify.at(-1).identities, {
      anonymous_id: rt.siyu.getAnonymousId(),
      'wx_openid:wxshop': 'oOPEN1',
      wx_unionid: 'uUNION1',
      login_id: 'member-7',
    });
    rt.siyu.reset();
    assert.deepEqual(Object.keys(plain(rt.siyu.getIdentities())), ['anonymous_id']);
  });
});

describe('reliability', () => {
  test('offline events stay in wx storage and the next launch sends them with the same ids', async () => {
    const storage = new Map();
    const down = fakeCollector([0, 0, 0, 0, 0]);
    const first = miniProgram({ storage, server: down, init: { retryDelay: 60000 } });
    first.launch({ path: 'pages/index/index', scene: 1001, query: {} });
    first.siyu.track('pay_order', { order_id: 'o1', amount: 9.9 });
    await sent(first);
    assert.equal(down.delivered.length, 0);
    const queued = JSON.parse(storage.get('siyu_q')).items;
    assert.equal(queued.length, 3);

    const up = fakeCollector();
    const second = miniProgram({ storage, server: up });
    second.launch({ path: 'pages/index/index', scene: 1001, query: {} });
    const events = await sent(second);
    assert.deepEqual(events.slice(0, 3).map((e) => e.event_id), queued.map((e) => e.event_id));
    assert.equal(second.siyu.getAnonymousId(), first.siyu.getAnonymousId());
    assert.equal(second.siyu.queued(), 0);
  });

  test('requests carry the write key header and the native envelope', async () => {
    const headers = [];
    const server = fakeCollector();
    const respond = server.respond.bind(server);
    server.respond = (body, header) => (headers.push(header), respond(body));
    const rt = miniProgram({ server });
    rt.launch({ path: 'pages/index/index', scene: 1001, query: {} });
    await sent(rt);
    assert.equal(headers[0]['X-Siyu-Key'], 'wk');
    assert.equal(typeof server.bodies[0].sent_at, 'number');
  });

  test('a broken wx never reaches the app: storage and request that throw', async () => {
    const rt = wechat();
    rt.wx.setStorageSync = () => {
      throw new Error('storage full');
    };
    rt.wx.request = () => {
      throw new Error('no network api');
    };
    assert.doesNotThrow(() => rt.siyu.init({ ...INIT, wx: rt.wx }));
    rt.app({});
    assert.doesNotThrow(() => rt.launch({ path: 'pages/index/index', scene: 1001, query: {} }));
    assert.doesNotThrow(() => rt.siyu.track('x'));
    await assert.doesNotReject(rt.siyu.flush());
    assert.equal(rt.siyu.queued(), 3);
  });

  test('calls before init and with bad arguments are harmless', async () => {
    const rt = wechat();
    assert.doesNotThrow(() => rt.siyu.track('early'));
    assert.doesNotThrow(() => rt.siyu.identify(undefined));
    rt.siyu.init({ ...INIT, wx: rt.wx });
    assert.doesNotThrow(() => rt.siyu.track(null, 5));
    assert.doesNotThrow(() => rt.siyu.register('not an object'));
    assert.doesNotThrow(() => rt.siyu.setIdentity(null, {}));
    assert.equal(rt.siyu.queued(), 0);
  });
});
