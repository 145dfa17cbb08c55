// Drives the H5 SDK in headless Chromium against a running collector and prints what it did
// as one JSON line (anonymous ids, login id, share links) for the Python test to check in
// ClickHouse.  Usage: node e2e/drive.mjs '{"pageUrl": …, "serverUrl": …, "writeKey": …, "run": …,
// "casesFile": …}'; casesFile holds {cases: [{event, properties}], profile: {…}} for visitor C.
import { readFileSync } from 'node:fs';
import { chromium } from 'playwright-core';

const cfg = JSON.parse(process.argv[2]);
const FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-quic',
  '--disable-sync',
];

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: FLAGS,
  headless: true,
});
const out = { run: cfg.run, consoleErrors: [] };

async function visitor(name) {
  const context = await browser.newContext();
  await context.addInitScript(`window.SIYU_CONFIG = ${JSON.stringify({ serverUrl: cfg.serverUrl, writeKey: cfg.writeKey })};`);
  const page = await context.newPage();
  page.on('pageerror', (e) => out.consoleErrors.push(`${name}: ${e.message}`));
  // The browser itself logs failed requests (the offline step); anything else is a page error.
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) out.consoleErrors.push(`${name}: ${m.text()}`);
  });
  return { context, page };
}

/**
 * Visitor C: e2e/async.html, a page that loads the SDK with the async snippet (calls made before the SDK
 * arrived are queued by the stub), the Unicode cases through the stub, fetch and sendBeacon,
 * and Sensors' vocabulary: login, user properties, page properties, an event timer.
 */
async function visitorC({ cases, profile }) {
  const early = cases.slice(0, 3);
  const fetched = [cases[3], cases[4], cases[7]];
  const beaconed = [cases[5], cases[6]];
  const c = await visitor('C');
  await c.context.addInitScript(`window.EARLY = ${JSON.stringify(early)};`);
  const entry = new URLSearchParams({ qr_id: `QR-${cfg.run}`, material_id: `M-${cfg.run}`, channel: '朋友圈' });
  await c.page.goto(new URL(`/e2e/async.html?${entry}`, cfg.pageUrl).href);
  await c.page.waitForFunction(() => window.readyAnon);
  out.anonC = await c.page.evaluate(() => window.readyAnon);
  out.loginC = `e2e-c-${cfg.run}`;
  out.queuedEarly = await c.page.evaluate(() => siyu.queued()); // $pageview + the stub's calls
  await c.page.evaluate(
    async ({ fetched, profile, login }) => {
      for (const e of fetched) siyu.track(e.event, e.properties);
      siyu.login(login);
      siyu.setProfile(profile);
      siyu.setOnceProfile({ first_channel: '朋友圈' });
      siyu.incrementProfile({ points: 5 });
      siyu.appendProfile({ tags: ['新客', '👨‍👩‍👧‍👦'] });
      siyu.unsetProfile(['old_field']);
      siyu.registerPage({ page_kind: 'async' });
      siyu.trackTimerStart('read_article');
      await new Promise((r) => setTimeout(r, 400));
      siyu.trackTimerEnd('read_article', { article: '标题 🎉' });
    },
    { fetched, profile, login: out.loginC },
  );
  out.queuedC = await delivered(c.page);
  // These leave by sendBeacon when the page goes away.
  await c.page.evaluate((beaconed) => beaconed.forEach((e) => siyu.track(e.event, e.properties)), beaconed);
  out.queuedBeforeExit = await c.page.evaluate(() => siyu.queued());
  // Sensors' identify: a new anonymous id (also in the cookie) for what follows, e.g. the exit.
  out.deviceC = `c-device-${cfg.run}`;
  await c.page.evaluate((id) => siyu.identify(id), out.deviceC);
  out.cookieC = (await c.context.cookies()).find((k) => k.name === 'siyu_anon')?.value;
  await c.page.goto('about:blank');
  await c.page.waitForTimeout(500);
  await c.context.close();
}

const delivered = (page) => page.evaluate(() => siyu.flush().then(() => siyu.queued()));

try {
  // Visitor A lands from a campaign, clicks, navigates in the SPA, logs in and shares.
  const a = await visitor('A');
  await a.page.goto(`${cfg.pageUrl}?utm_source=wechat&utm_medium=moments&utm_campaign=${cfg.run}`);
  await a.page.click('#buy b'); // inner element: reported as the button
  await a.page.click('a.more'); // hash route → $pageview
  await a.page.click('button.route'); // history.pushState route → $pageview
  await a.page.click('text=plain text'); // not clickable: no event
  await a.page.click('text=Terms');
  out.anonA = await a.page.evaluate(() => siyu.getAnonymousId());
  out.login = `e2e-login-${cfg.run}`;
  await a.page.evaluate((id) => siyu.login(id), out.login);
  out.shareLink = await a.page.evaluate(() => siyu.share(location.origin + '/e2e/page.html?item=7', { channel: 'wechat_friend' }));
  out.queuedA = await delivered(a.page);
  // Offline: events wait in the persisted queue, then go out once the network is back.
  await a.context.setOffline(true);
  await a.page.evaluate((run) => siyu.track('offline_event', { run }), cfg.run);
  out.queuedOffline = await delivered(a.page);
  out.storedOffline = await a.page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('siyu_q:')).length);
  await a.context.setOffline(false);
  out.queuedOnline = await delivered(a.page);
  await a.page.waitForTimeout(300); // some time on the page before leaving
  // Leaving: $WebStay/$WebPageLeave go out by sendBeacon from pagehide.
  await a.page.goto('about:blank');
  await a.page.waitForTimeout(500);

  // Visitor B (own storage) opens A's link: the fission chain continues one level deeper.
  const b = await visitor('B');
  await b.page.goto(out.shareLink);
  out.anonB = await b.page.evaluate(() => siyu.getAnonymousId());
  await b.page.evaluate((run) => siyu.track('view_product', { product_id: '7', run }), cfg.run);
  out.shareLinkB = await b.page.evaluate(() => siyu.share());
  out.queuedB = await delivered(b.page);
  out.cookieB = (await b.context.cookies()).find((c) => c.name === 'siyu_anon')?.value;
  await b.context.close();
  await a.context.close();

  if (cfg.casesFile) await visitorC(JSON.parse(readFileSync(cfg.casesFile, 'utf8')));
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
