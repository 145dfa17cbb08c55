// Compiled by package.test.mjs against the built .d.ts, through the package's own "exports":
// what a TypeScript user of `siyu-js` writes must typecheck, and misuse must not.
import siyu, { type SiyuApi, type WireEvent } from 'siyu-js';
import mp, { createSdk, type MiniProgramOptions } from 'siyu-js/miniprogram';

siyu.init({ serverUrl: 'https://collect.example.com', writeKey: 'k', autoTrack: { click: false } });
siyu.login('member-1');
siyu.logout(true);
siyu.identify('device-1');
siyu.setProfile({ nickname: '阿明', vip: true });
siyu.setOnceProfile({ first_channel: 'poster' });
siyu.incrementProfile({ points: 5 });
siyu.incrementProfile('logins');
siyu.appendProfile({ tags: ['vip'], hobby: 'tea' });
siyu.unsetProfile(['nickname']);
siyu.deleteProfile();
siyu.registerPage({ tab: () => 'home' });
siyu.trackTimerStart('read');
siyu.trackTimerEnd('read', { article: 'a1' });
siyu.ready((sdk) => sdk.getAnonymousId().toUpperCase());
const link: string = siyu.share();
const done: Promise<void> = siyu.flush();

const options: MiniProgramOptions = { serverUrl: 'https://c', writeKey: 'k', autoTrack: { mpClick: true, pageLeave: true } };
mp.init(options);
const second: SiyuApi = createSdk();
second.track('x');
const page = mp.Page({ onLoad() {} });

// @ts-expect-error incrementProfile takes numbers
siyu.incrementProfile({ points: 'five' });
// @ts-expect-error no such switch
mp.init({ serverUrl: 'https://c', writeKey: 'k', autoTrack: { clicks: true } });
// @ts-expect-error one name per operation: logout(true), not reset()
siyu.reset();

export const used: Array<unknown> = [link, done, page, null as unknown as WireEvent];
