import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { readFileSync } from 'node:fs';
import { BEACON_BYTES, Client, Queue, STALE_MS, isRetriable, retryDelay, utf8Bytes } from '../build/test/core.mjs';
import { fakeCollector, fakeEnv, manualTimers, memoryStore, settle } from './helpers.mjs';

const { version: VERSION } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const OPTIONS = { serverUrl: 'http://collector.test/', writeKey: 'k', batchSize: 2, flushInterval: 1000 };

describe('envelope and batching', () => {
  test('events go out in batches of batchSize in the native envelope', async () => {
    const collector = fakeCollector();
    const env = fakeEnv({ collector });
    const c = new Client(env, OPTIONS);
    for (let i = 0; i < 5; i++) c.track('view_product', { n: i });
    await c.flush();
    assert.deepEqual(collector.bodies.map((b) => b.events.length), [2, 2, 1]);
    const events = collector.events();
    assert.deepEqual(events.map((e) => e.properties.n), [0, 1, 2, 3, 4]);
    assert.equal(new Set(events.map((e) => e.event_id)).size, 5);
    const e = events[0];
    assert.equal(e.type, 'track');
    assert.equal(e.platform, 'h5');
    assert.equal(typeof e.time, 'number');
    assert.deepEqual(e.context.lib, { name: 'siyu-js', version: VERSION });
    assert.deepEqual(e.context.utm, { source: 'test' });
    assert.equal(e.identities.anonymous_id, c.anonymousId);
    assert.equal(typeof collector.bodies[0].sent_at, 'number');
    assert.equal(c.queue.items.length, 0);
  });

  test('a full batch is sent at once, a partial one after flushInterval', async () => {
    const timers = manualTimers();
    const collector = fakeCollector();
    const c = new Client(fakeEnv({ timers, collector }), OPTIONS);
    c.track('a');
    await timers.advance(0);
    assert.equal(collector.bodies.length, 0);
    await timers.advance(999);
    assert.equal(collector.bodies.length, 0);
    await timers.advance(1);
    assert.equal(collector.bodies.length, 1);
    c.track('b');
    c.track('c');
    await timers.advance(0);
    assert.equal(collector.bodies.length, 2);
    assert.deepEqual(collector.bodies[1].events.map((e) => e.event), ['b', 'c']);
  });

  test('super properties go on every event; event properties win', async () => {
    const collector = fakeCollector();
    const c = new Client(fakeEnv({ collector }), OPTIONS);
    c.register({ app_version: '1.2', channel: 'a' });
    c.track('x', { channel: 'b' });
    c.unregister('app_version');
    c.track('y');
    await c.flush();
    const [x, y] = collector.events();
    assert.deepEqual([x.properties.app_version, x.properties.channel, x.properties.$url_path], ['1.2', 'b', '/here']);
    assert.deepEqual([y.properties.app_version, y.properties.channel], [undefined, 'a']);
  });

  test('track without a name is ignored', async () => {
    const c = new Client(fakeEnv(), OPTIONS);
    assert.equal(c.track(''), null);
    assert.equal(c.track(undefined), null);
    assert.equal(c.queue.items.length, 0);
  });
});

describe('retries', () => {
  test('a failed batch is resent with the same event ids, after a growing backoff', async () => {
    const timers = manualTimers();
    const collector = fakeCollector([503, 0, 200]);
    const c = new Client(fakeEnv({ timers, collector }), { ...OPTIONS, retryDelay: 1000, maxRetryDelay: 60000 });
    c.track('pay_order', { order_id: 'o1' });
    c.track('pay_order', { order_id: 'o2' });
    await timers.advance(0);
    assert.equal(collector.bodies.length, 1);
    await timers.advance(1000); // first retry: 500–1000 ms
    assert.equal(collector.bodies.length, 2);
    await timers.advance(1000); // second retry: 1000–2000 ms
    await timers.advance(1000);
    assert.equal(collector.bodies.length, 3);
    const ids = collector.bodies.map((b) => b.events.map((e) => e.event_id).join(','));
    assert.equal(new Set(ids).size, 1, 'every attempt carries the same event ids');
    assert.equal(collector.delivered.length, 2);
    assert.equal(c.queue.items.length, 0);
    const retries = timers.delays.slice(2); // [flushInterval, 0 (full batch), retry 1, retry 2]
    assert.ok(retries[0] >= 500 && retries[0] <= 1000, `first retry ${retries[0]}`);
    assert.ok(retries[1] >= 1000 && retries[1] <= 2000, `second retry ${retries[1]}`);
  });

  test('new events wait for the backoff instead of hammering a failing collector', async () => {
    const timers = manualTimers();
    const collector = fakeCollector([503]);
    const c = new Client(fakeEnv({ timers, collector }), { ...OPTIONS, retryDelay: 5000 });
    c.track('a');
    c.track('b');
    await timers.advance(0);
    c.track('c');
    c.track('d');
    await timers.advance(100);
    assert.equal(collector.bodies.length, 1);
    await timers.advance(5000);
    assert.deepEqual(collector.delivered.map((e) => e.event), ['a', 'b', 'c', 'd']);
  });

  test('a refused batch (4xx) is dropped and delivery goes on', async () => {
    const collector = fakeCollector([400]);
    const c = new Client(fakeEnv({ collector }), OPTIONS);
    c.track('bad1');
    c.track('bad2');
    c.track('good');
    await c.flush();
    assert.deepEqual(collector.delivered.map((e) => e.event), ['good']);
    assert.equal(c.queue.items.length, 0);
  });

  test('a transport that throws is treated as a network error, nothing reaches the caller', async () => {
    const timers = manualTimers();
    const collector = fakeCollector(['throw']);
    const c = new Client(fakeEnv({ timers, collector }), OPTIONS);
    c.track('a');
    await assert.doesNotReject(c.flush());
    assert.equal(c.queue.items.length, 1);
    await timers.advance(60000);
    assert.deepEqual(collector.delivered.map((e) => e.event), ['a']);
  });

  test('backoff doubles, is capped and jittered into [half, full]', () => {
    assert.equal(retryDelay(1, 1000, 60000, 1), 1000);
    assert.equal(retryDelay(2, 1000, 60000, 1), 2000);
    assert.equal(retryDelay(3, 1000, 60000, 0), 2000);
    assert.equal(retryDelay(30, 1000, 60000, 1), 60000);
    assert.deepEqual([0, 408, 429, 500, 503].map(isRetriable), [true, true, true, true, true]);
    assert.deepEqual([200, 400, 401, 413].map(isRetriable), [false, false, false, false]);
  });
});

describe('persistence', () => {
  test('queued events survive a reload and are sent by the next page with their ids', async () => {
    const store = memoryStore();
    const offline = fakeCollector([0, 0, 0]);
    const first = new Client(fakeEnv({ store, collector: offline }), OPTIONS);
    first.track('a');
    const id = first.queue.items[0].event_id;
    await first.flush();
    assert.equal(offline.delivered.length, 0);
    const online = fakeCollector();
    const timers = manualTimers();
    const second = new Client(fakeEnv({ store, collector: online, timers }), OPTIONS);
    assert.equal(second.anonymousId, first.anonymousId, 'anonymous id persisted');
    await timers.advance(0);
    assert.deepEqual(online.delivered.map((e) => e.event_id), [id]);
  });

  test('the queue is bounded: beyond maxQueue the oldest events are dropped', () => {
    const c = new Client(fakeEnv({ collector: fakeCollector([0]) }), { ...OPTIONS, maxQueue: 3, batchSize: 100 });
    for (let i = 0; i < 5; i++) c.track('e' + i);
    assert.deepEqual(c.queue.items.map((e) => e.event), ['e2', 'e3', 'e4']);
    assert.equal(c.queue.dropped, 2);
  });

  test('when storage is full the newest half is kept', () => {
    const data = new Map();
    const store = { ...memoryStore(data), set: (k, v) => (v.length > 2000 ? false : (data.set(k, v), true)) };
    const c = new Client(fakeEnv({ store, collector: fakeCollector([0]) }), { ...OPTIONS, batchSize: 100 });
    for (let i = 0; i < 12; i++) c.track('e' + i, { pad: 'x'.repeat(50) });
    const saved = JSON.parse(data.get('siyu_q')).items.map((e) => e.event);
    assert.ok(saved.length > 0 && saved.length < 12);
    assert.equal(saved.at(-1), 'e11');
  });

  test('a page adopts the queue of a closed tab, not of a live one', async () => {
    const store = memoryStore();
    const timers = manualTimers();
    const closed = new Queue(store, 'siyu_q:old', 100, () => timers.now() - STALE_MS - 1);
    closed.push({ event_id: 'x1', event: 'left_behind', time: 1 });
    const live = new Queue(store, 'siyu_q:live', 100, timers.now);
    live.push({ event_id: 'y1', event: 'live_tab', time: 2 });
    const collector = fakeCollector();
    const c = new Client(fakeEnv({ store, timers, collector, queueKey: 'siyu_q:new', adopt: true }), OPTIONS);
    await timers.advance(0);
    assert.deepEqual(collector.delivered.map((e) => e.event_id), ['x1']);
    assert.equal(store.get('siyu_q:old'), null);
    assert.notEqual(store.get('siyu_q:live'), null);
    assert.equal(c.queue.items.length, 0);
  });

  test('a queue released on page hide is adopted by the next page at once', async () => {
    const store = memoryStore();
    const timers = manualTimers();
    const closing = new Client(fakeEnv({ store, timers, collector: fakeCollector([0]), queueKey: 'siyu_q:a', adopt: true }), OPTIONS);
    closing.track('undelivered');
    await timers.advance(0);
    closing.release();
    const collector = fakeCollector();
    new Client(fakeEnv({ store, timers, collector, queueKey: 'siyu_q:b', adopt: true }), OPTIONS);
    await timers.advance(0);
    assert.deepEqual(collector.delivered.map((e) => e.event), ['undelivered']);
  });

  test('corrupt stored state starts fresh instead of failing', () => {
    const store = memoryStore();
    store.set('siyu_state', '{not json');
    store.set('siyu_q', '[[[');
    const c = new Client(fakeEnv({ store }), OPTIONS);
    assert.match(c.anonymousId, /^[0-9a-f]{32}$/);
    assert.equal(c.queue.items.length, 0);
  });
});

describe('identity', () => {
  test('setIdentity sends an identify event linking anonymous and login ids, once per value', async () => {
    const collector = fakeCollector();
    const c = new Client(fakeEnv({ collector }), OPTIONS);
    c.setIdentity('login_id', 'u-42');
    c.setIdentity('login_id', 'u-42');
    c.setIdentity('mobile', 'null');
    c.track('after_login');
    await c.flush();
    const [identify, after] = collector.events();
    assert.equal(collector.events().length, 2);
    assert.equal(identify.type, 'identify');
    assert.deepEqual(identify.identities, { anonymous_id: c.anonymousId, login_id: 'u-42' });
    assert.deepEqual(after.identities, { anonymous_id: c.anonymousId, login_id: 'u-42' });
  });

  test('logout drops login and account identities, keeps the anonymous id and WeChat ids', async () => {
    const collector = fakeCollector();
    const c = new Client(fakeEnv({ collector }), OPTIONS);
    const anon = c.anonymousId;
    c.setIdentity('wx_openid:wx1', 'o1');
    c.setIdentity('wx_unionid', 'u1');
    c.setIdentity('login_id', 'member-1');
    c.setIdentity('mobile', '13800000000');
    c.logout();
    c.track('after_logout');
    await c.flush();
    assert.equal(c.anonymousId, anon);
    assert.deepEqual(collector.events().at(-1).identities, { anonymous_id: anon, 'wx_openid:wx1': 'o1', wx_unionid: 'u1' });
  });

  test('logout(true) gives a new anonymous id and forgets every other identity', async () => {
    const collector = fakeCollector();
    const changed = [];
    const env = { ...fakeEnv({ collector }), anonymousIdChanged: (id) => changed.push(id) };
    const c = new Client(env, OPTIONS);
    const before = c.anonymousId;
    c.setIdentity('login_id', 'u-1');
    c.setIdentity('wx_openid:wx1', 'o1');
    c.logout(true);
    c.track('after_reset');
    await c.flush();
    const last = collector.events().at(-1);
    assert.notEqual(c.anonymousId, before);
    assert.deepEqual(last.identities, { anonymous_id: c.anonymousId });
    assert.deepEqual(changed, [c.anonymousId]);
  });

  test('setAnonymousId (identify) replaces the anonymous id, persisted; junk and over-long ids are ignored', async () => {
    const store = memoryStore();
    const collector = fakeCollector();
    const c = new Client(fakeEnv({ store, collector }), OPTIONS);
    c.setAnonymousId('device-123');
    c.setAnonymousId('undefined');
    c.setAnonymousId('x'.repeat(256));
    c.track('a');
    await c.flush();
    assert.equal(collector.events()[0].identities.anonymous_id, 'device-123');
    assert.equal(collector.events().length, 1, 'identify sends no event');
    assert.equal(new Client(fakeEnv({ store }), OPTIONS).anonymousId, 'device-123');
  });

  test('a junk value removes the identity', () => {
    const c = new Client(fakeEnv(), OPTIONS);
    c.setIdentity('member_id', 'm1');
    c.setIdentity('member_id', 'undefined');
    assert.deepEqual(Object.keys(c.identities()), ['anonymous_id']);
  });
});

describe('beacon', () => {
  test('what the browser accepts leaves the queue; a refusal keeps the rest', async () => {
    const sent = [];
    let accept = 2;
    const env = fakeEnv({ collector: fakeCollector([0]) });
    env.transport.beacon = (url, body, key) => {
      if (accept-- <= 0) return false;
      sent.push({ url, key, events: JSON.parse(body).events.length });
      return true;
    };
    const c = new Client(env, { ...OPTIONS, batchSize: 2 });
    for (let i = 0; i < 5; i++) c.track('e' + i);
    c.beacon();
    await settle();
    assert.deepEqual(sent.map((s) => s.events), [2, 2]);
    assert.equal(sent[0].url, 'http://collector.test/v1/batch');
    assert.equal(c.queue.items.length, 1);
  });
});

describe('user properties', () => {
  test('each profile call sends its native type with exactly the given values in properties', async () => {
    const collector = fakeCollector();
    const c = new Client(fakeEnv({ collector }), { ...OPTIONS, batchSize: 100 });
    c.register({ app_version: '2.0' });
    c.registerPage({ page_tab: 'home' });
    c.setIdentity('login_id', 'member-9');
    c.profile('profile_set', { nickname: '小明', vip: true, level: 3 });
    c.profile('profile_set_once', { first_channel: 'poster' });
    c.profile('profile_increment', { points: 10, bad: 'ten' });
    c.profile('profile_increment', 'logins');
    c.profile('profile_append', { tags: ['vip', 3, 'new'], hobby: 'tea' });
    c.profile('profile_unset', ['nickname', '', 7, 'level']);
    c.profile('profile_unset', 'vip');
    c.profile('profile_delete');
    await c.flush();
    const profile = collector.events().filter((e) => e.type !== 'identify');
    assert.deepEqual(
      profile.map((e) => [e.type, e.event, e.properties]),
      [
        ['profile_set', '', { nickname: '小明', vip: true, level: 3 }],
        ['profile_set_once', '', { first_channel: 'poster' }],
        ['profile_increment', '', { points: 10 }],
        ['profile_increment', '', { logins: 1 }],
        ['profile_append', '', { tags: ['vip', 'new'], hobby: ['tea'] }],
        ['profile_unset', '', { nickname: true, level: true }],
        ['profile_unset', '', { vip: true }],
        ['profile_delete', '', {}],
      ],
      'no preset, super or page properties on profile events',
    );
    for (const e of profile) {
      assert.deepEqual(e.identities, { anonymous_id: c.anonymousId, login_id: 'member-9' });
      assert.equal(e.context.lib.name, 'siyu-js');
    }
  });

  test('a profile call with nothing usable sends nothing', () => {
    const c = new Client(fakeEnv(), OPTIONS);
    assert.equal(c.profile('profile_set', 'not an object'), null);
    assert.equal(c.profile('profile_set', {}), null);
    assert.equal(c.profile('profile_increment', { a: 'x', b: NaN, c: Infinity }), null);
    assert.equal(c.profile('profile_append', { a: [1, 2] }), null);
    assert.equal(c.profile('profile_unset', []), null);
    assert.equal(c.queue.items.length, 0);
  });
});

describe('page properties and timers', () => {
  test('registerPage values go on events over super properties, under event properties; functions run per event', async () => {
    const collector = fakeCollector();
    const store = memoryStore();
    const c = new Client(fakeEnv({ collector, store }), { ...OPTIONS, batchSize: 100 });
    let n = 0;
    c.register({ source: 'super', app_version: '2.0' });
    c.registerPage({ source: 'page', counter: () => ++n, broken: () => { throw new Error('x'); } });
    c.track('a');
    c.track('b', { source: 'event' });
    c.clearPageRegister(['counter']);
    c.track('c');
    c.clearPageRegister();
    c.track('d');
    await c.flush();
    const [a, b, cc, d] = collector.events().map((e) => e.properties);
    assert.deepEqual([a.source, a.counter, a.app_version, 'broken' in a], ['page', 1, '2.0', false]);
    assert.deepEqual([b.source, b.counter], ['event', 2]);
    assert.deepEqual([cc.source, cc.counter], ['page', undefined]);
    assert.equal(d.source, 'super');
    assert.deepEqual(JSON.parse(store.get('siyu_state')).props, { source: 'super', app_version: '2.0' }, 'page values are not persisted');
  });

  test('trackTimerEnd adds $event_duration in seconds, pauses excluded; no timer, no duration', async () => {
    const timers = manualTimers();
    const collector = fakeCollector();
    const c = new Client(fakeEnv({ timers, collector }), { ...OPTIONS, batchSize: 100 });
    c.timers.start('watch_video');
    await timers.advance(1500);
    c.timers.pause('watch_video');
    await timers.advance(10000);
    c.timers.resume('watch_video');
    await timers.advance(250);
    c.trackTimerEnd('watch_video', { video_id: 'v1' });
    c.trackTimerEnd('watch_video');
    c.timers.start('read');
    c.timers.clear();
    c.trackTimerEnd('read');
    await c.flush();
    const events = collector.events();
    assert.deepEqual(events[0].properties.$event_duration, 1.75);
    assert.equal(events[0].properties.video_id, 'v1');
    assert.equal('$event_duration' in events[1].properties, false, 'the timer ended with the first event');
    assert.equal('$event_duration' in events[2].properties, false);
  });
});

describe('byte limits of the browser', () => {
  test('utf8Bytes is exact outside surrogate pairs and never under the real size', () => {
    for (const text of ['abc', 'é', '汉字', 'שלום', '', 'a\u0301']) assert.equal(utf8Bytes(text), Buffer.byteLength(text), text);
    for (const text of ['😀', '👨‍👩‍👧‍👦', '🇨🇳', '𠮷']) {
      assert.ok(utf8Bytes(text) >= Buffer.byteLength(text) && utf8Bytes(text) <= 1.5 * Buffer.byteLength(text), text);
    }
  });

  test('beacon bodies of CJK text are split by bytes, not by characters', async () => {
    const sizes = [];
    const env = fakeEnv({ collector: fakeCollector([0]) });
    env.transport.beacon = (url, body) => (sizes.push(Buffer.byteLength(body)), true);
    const c = new Client(env, { ...OPTIONS, batchSize: 10 });
    // 10 events of 9,000 CJK characters: ~27 KB of UTF-8 each, 10 × 9,000 characters < BEACON_BYTES·2.
    for (let i = 0; i < 10; i++) c.track('e' + i, { text: '汉'.repeat(9000) });
    c.beacon();
    await settle();
    assert.ok(sizes.length >= 5, String(sizes));
    assert.ok(sizes.every((n) => n <= BEACON_BYTES), String(sizes));
    assert.equal(c.queue.items.length, 0);
  });
});
