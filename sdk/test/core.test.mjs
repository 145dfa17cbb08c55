import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Client, Queue, STALE_MS, isRetriable, retryDelay } from '../dist/test/core.mjs';
import { fakeCollector, fakeEnv, manualTimers, memoryStore, settle } from './helpers.mjs';

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
    assert.deepEqual(e.context.lib, { name: 'siyu-js', version: '0.1.0' });
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

  test('reset gives a new anonymous id and forgets other identities', async () => {
    const collector = fakeCollector();
    const c = new Client(fakeEnv({ collector }), OPTIONS);
    const before = c.anonymousId;
    c.setIdentity('login_id', 'u-1');
    c.reset();
    c.track('after_reset');
    await c.flush();
    const last = collector.events().at(-1);
    assert.notEqual(c.anonymousId, before);
    assert.deepEqual(last.identities, { anonymous_id: c.anonymousId });
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
