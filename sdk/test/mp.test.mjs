// The shipped dist/miniprogram/index.js in a simulated WeChat runtime (see helpers.mjs).
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
    const rt = miniProgram({ init: { autoTrack: { pageLeave: true } } });
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

  test('tap handlers produce $MPClick (when on) and keep their result; host errors still reach the host', async () => {
    const rt = miniProgram({ init: { autoTrack: { mpClick: true } } });
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

  test('element content is cut at 255 UTF-16 units without splitting an emoji', async () => {
    const rt = miniProgram({ init: { autoTrack: { mpClick: true } } });
    rt.launch({ path: 'pages/index/index', scene: 1001, query: {} });
    const index = rt.open('pages/index/index');
    rt.tap(index, 'buy', { dataset: { sku: 's', content: 'a'.repeat(254) + '😀tail' } });
    rt.tap(index, 'buy', { dataset: { sku: 's', content: 'b'.repeat(253) + '😀tail' } });
    const [cut, kept] = named(await sent(rt), '$MPClick').map((e) => e.properties.$element_content);
    assert.equal(cut, 'a'.repeat(254));
    assert.equal(kept, 'b'.repeat(253) + '😀');
    assert.ok(cut.isWellFormed() && kept.isWellFormed());
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
    rt.siyu.login('member-7');
    const events = await sent(rt);
    const identify = events.filter((e) => e.type === 'identify');
    assert.equal(identify.length, 3);
    assert.deepEqual(identify.at(-1).identities, {
      anonymous_id: rt.siyu.getAnonymousId(),
      'wx_openid:wxshop': 'oOPEN1',
      wx_unionid: 'uUNION1',
      login_id: 'member-7',
    });
    rt.siyu.logout();
    assert.deepEqual(Object.keys(plain(rt.siyu.getIdentities())), ['anonymous_id', 'wx_openid:wxshop', 'wx_unionid']);
    rt.siyu.logout(true);
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
    assert.doesNotThrow(() => rt.siyu.login(undefined));
    rt.siyu.init({ ...INIT, wx: rt.wx });
    assert.doesNotThrow(() => rt.siyu.track(null, 5));
    assert.doesNotThrow(() => rt.siyu.register('not an object'));
    assert.doesNotThrow(() => rt.siyu.setIdentity(null, {}));
    assert.equal(rt.siyu.queued(), 0);
  });
});

describe('autoTrack switches', () => {
  test("Sensors' defaults: no $MPClick and no $MPPageLeave, host tap handlers left unwrapped", async () => {
    const rt = wechat();
    rt.siyu.init({ ...INIT, wx: rt.wx });
    rt.app({ onLaunch() {}, onShow() {}, onHide() {} });
    const buy = () => 'bought';
    rt.page('pages/index/index', { buy });
    rt.launch({ path: 'pages/index/index', scene: 1001, query: {} });
    const index = rt.open('pages/index/index');
    assert.equal(index.buy, buy, 'the method is the host function itself');
    rt.tap(index, 'buy');
    rt.close(index);
    rt.hideApp();
    assert.deepEqual((await sent(rt)).map((e) => e.event), ['$MPLaunch', '$MPShow', '$MPViewScreen', '$MPHide']);
  });

  test('each switch turns its event off; autoTrack: false turns all off but keeps the entry context', async () => {
    const off = miniProgram({ init: { autoTrack: { appLaunch: false, appHide: false, pageShow: false, pageShare: false, mpFavorite: false } } });
    off.launch({ path: 'pages/item/item', scene: 1047, query: {} });
    const item = off.open('pages/item/item', { id: '7' });
    const message = plain(item.onShareAppMessage({ from: 'button' }));
    item.onAddToFavorites();
    off.hideApp();
    assert.deepEqual((await sent(off)).map((e) => e.event), ['$MPShow']);
    assert.match(message.path, /siyu_sharer=/, 'share links still carry the sharer');

    const none = miniProgram({ init: { autoTrack: false } });
    none.launch({ path: 'pages/index/index', scene: 1047, query: { qr_id: 'Q1' } });
    none.open('pages/index/index');
    none.siyu.track('coded');
    const events = await sent(none);
    assert.deepEqual(events.map((e) => e.event), ['coded']);
    assert.deepEqual([events[0].context.scene, events[0].context.qr], [1047, 'Q1']);
  });
});

describe('entry context', () => {
  const contextOf = async (query) => {
    const rt = miniProgram();
    rt.launch({ path: 'pages/index/index', scene: 1047, query });
    rt.siyu.track('probe');
    const e = named(await sent(rt), 'probe')[0];
    const { qr, material, channel, utm } = e.context;
    return plain({ qr, material, channel, utm });
  };

  test('qr_id, material_id and channel of the launch query become context.qr / material / channel', async () => {
    assert.deepEqual(await contextOf({ qr_id: 'Q1', material_id: 'M2', channel: 'poster', utm_source: 'wecom' }), {
      qr: 'Q1',
      material: 'M2',
      channel: 'poster',
      utm: { source: 'wecom' },
    });
    assert.deepEqual(await contextOf({ id: '7' }), {});
  });

  test("an unlimited code's scene: URL-decoded, k=v pairs with short names, or a bare live-code id", async () => {
    const scene = encodeURIComponent('qr=Q7&mat=M3&ch=moments&utm_source=wx');
    assert.deepEqual(await contextOf({ scene }), { qr: 'Q7', material: 'M3', channel: 'moments', utm: { source: 'wx' } });
    assert.deepEqual(await contextOf({ scene: encodeURIComponent('qr_id=Q8&material_id=M8') }), { qr: 'Q8', material: 'M8' });
    assert.deepEqual(await contextOf({ scene: 'LIVE42' }), { qr: 'LIVE42' });
    assert.deepEqual(await contextOf({ scene: encodeURIComponent('id=123') }), {}, 'a scene with other names names no code');
    assert.deepEqual(await contextOf({ scene: encodeURIComponent('qr=FROM_SCENE'), qr_id: 'FROM_QUERY' }), { qr: 'FROM_QUERY' });
  });

  test('a later entry replaces the context of the earlier one', async () => {
    const rt = miniProgram();
    rt.launch({ path: 'pages/index/index', scene: 1047, query: { qr_id: 'Q1' } });
    rt.siyu.track('first');
    rt.hideApp();
    rt.showApp({ path: 'pages/index/index', scene: 1011, query: { scene: 'Q2' } });
    rt.siyu.track('second');
    const events = await sent(rt);
    assert.deepEqual([named(events, 'first')[0].context.qr, named(events, 'second')[0].context.qr], ['Q1', 'Q2']);
    assert.equal(named(events, 'second')[0].context.scene, 1011);
  });
});

describe("Sensors' vocabulary", () => {
  test('login, identify, profiles, page properties and timers through the shipped build', async () => {
    const rt = miniProgram({ appId: 'wxshop' });
    rt.launch({ path: 'pages/index/index', scene: 1001, query: {} });
    rt.siyu.identify('device-abc');
    rt.siyu.login('member-1');
    rt.siyu.setProfile({ nickname: '阿明' });
    rt.siyu.setOnceProfile({ first_scene: 1001 });
    rt.siyu.incrementProfile({ points: 5 });
    rt.siyu.appendProfile({ tags: 'vip' });
    rt.siyu.unsetProfile('nickname');
    rt.siyu.deleteProfile();
    rt.siyu.registerPage({ tab: 'home' });
    rt.siyu.trackTimerStart('read_article');
    await new Promise((r) => setTimeout(r, 30));
    rt.siyu.trackTimerEnd('read_article', { article_id: 'a1' });
    const events = (await sent(rt)).filter((e) => !e.event.startsWith('$MP'));
    assert.deepEqual(
      events.map((e) => [e.type, e.event]),
      [
        ['identify', '$identify'],
        ['profile_set', ''],
        ['profile_set_once', ''],
        ['profile_increment', ''],
        ['profile_append', ''],
        ['profile_unset', ''],
        ['profile_delete', ''],
        ['track', 'read_article'],
      ],
    );
    for (const e of events) assert.deepEqual(e.identities, { anonymous_id: 'device-abc', login_id: 'member-1' });
    assert.deepEqual(events[4].properties, { tags: ['vip'] });
    const read = events.at(-1).properties;
    assert.ok(read.$event_duration >= 0.02 && read.$event_duration < 5, String(read.$event_duration));
    assert.deepEqual([read.article_id, read.tab], ['a1', 'home']);
  });
});
