/**
 * The code API both builds share, in Sensors' vocabulary: `login`/`logout`/`identify`, the
 * `*Profile` calls, super and page properties, event timers. Every method is guarded: a
 * failure is logged (with `debug`) and swallowed, never thrown into the host.
 */
import type { Client } from './client';
import { safe } from './safe';
import type { Props } from './types';

/** Runs `fn` with the client; what happens before `init` (kept or dropped) is the adapter's choice. */
export type WithClient = <R>(fn: (c: Client) => R, fallback: R) => R;

/** The code API of both builds. */
export interface SiyuApi {
  /** A coded event (`type: "track"`). */
  track(event: string, props?: Props): void;
  /** The user logged in: sets `login_id` and sends an `identify` event linking it to the anonymous id. */
  login(loginId: string, props?: Props): void;
  /** The user logged out: login and account identities go; `changeId` also starts a new anonymous id. */
  logout(changeId?: boolean): void;
  /** Replace the anonymous id (e.g. with a device id the app already has). Sends no event. */
  identify(anonymousId: string): void;
  /** Add (or, with a junk value, remove) an identity of any type: `wx_unionid`, `mobile`, `member_id`, … */
  setIdentity(type: string, value: string): void;
  /** User properties: set (overwrite). */
  setProfile(props: Props): void;
  /** User properties: set only where not set yet (first-touch values). */
  setOnceProfile(props: Props): void;
  /** User properties: add numbers (`{points: 10}`; a bare name adds 1). */
  incrementProfile(props: Record<string, number> | string): void;
  /** User properties: append strings to list properties (`{tags: ['vip']}`). */
  appendProfile(props: Record<string, string | string[]>): void;
  /** User properties: remove one property or a list of them. */
  unsetProfile(names: string | string[]): void;
  /** User properties: delete the whole profile of this user. */
  deleteProfile(): void;
  /** Super properties: persisted, on every later event (event properties win). */
  register(props: Props): void;
  /** Remove one super property. */
  unregister(name: string): void;
  /**
   * Page-level properties: on every later event of this page (H5) or app run (mini-program),
   * not persisted; function values are called per event. They win over super properties.
   */
  registerPage(props: Props): void;
  /** Drop the named page-level properties, or all of them. */
  clearPageRegister(names?: string[]): void;
  /** Start (or restart) the timer of `event`; `trackTimerEnd(event)` tracks it with `$event_duration`. */
  trackTimerStart(event: string): void;
  /** Pause the timer of `event` (the paused time does not count). */
  trackTimerPause(event: string): void;
  trackTimerResume(event: string): void;
  /** Track `event` with `$event_duration` (seconds since `trackTimerStart`, pauses excluded). */
  trackTimerEnd(event: string, props?: Props): void;
  /** Drop every running timer. */
  clearTrackTimer(): void;
  /** Send now; resolves when the queue is empty or a send failed (never rejects). */
  flush(): Promise<void>;
  getAnonymousId(): string;
  /** Every identity of this device, anonymous id included. */
  getIdentities(): Record<string, string>;
  /** Events waiting for delivery (persisted). */
  queued(): number;
}

export function commonApi(act: WithClient, read: WithClient, log: (e: unknown) => void, identityKey: (type: string) => string = (t) => t): SiyuApi {
  const call =
    <A extends unknown[]>(fn: (c: Client, ...args: A) => unknown) =>
    (...args: A): void =>
      safe(() => act((c) => void fn(c, ...args), undefined), undefined, log)();
  const get = <R>(fn: (c: Client) => R, fallback: R) => safe(() => read(fn, fallback), fallback, log);
  return {
    track: call((c, event: string, props?: Props) => c.track(event, props)),
    login: call((c, loginId: string, props?: Props) => c.setIdentity('login_id', loginId, props)),
    logout: call((c, changeId?: boolean) => c.logout(changeId)),
    identify: call((c, anonymousId: string) => c.setAnonymousId(anonymousId)),
    setIdentity: call((c, type: string, value: string) => c.setIdentity(identityKey(type), value)),
    setProfile: call((c, props: Props) => c.profile('profile_set', props)),
    setOnceProfile: call((c, props: Props) => c.profile('profile_set_once', props)),
    incrementProfile: call((c, props: Record<string, number> | string) => c.profile('profile_increment', props)),
    appendProfile: call((c, props: Record<string, string | string[]>) => c.profile('profile_append', props)),
    unsetProfile: call((c, names: string | string[]) => c.profile('profile_unset', names)),
    deleteProfile: call((c) => c.profile('profile_delete')),
    register: call((c, props: Props) => c.register(props)),
    unregister: call((c, name: string) => c.unregister(name)),
    registerPage: call((c, props: Props) => c.registerPage(props)),
    clearPageRegister: call((c, names?: string[]) => c.clearPageRegister(names)),
    trackTimerStart: call((c, event: string) => c.timers.start(event)),
    trackTimerPause: call((c, event: string) => c.timers.pause(event)),
    trackTimerResume: call((c, event: string) => c.timers.resume(event)),
    trackTimerEnd: call((c, event: string, props?: Props) => c.trackTimerEnd(event, props)),
    clearTrackTimer: call((c) => c.timers.clear()),
    flush: (): Promise<void> => get((c) => c.flush(), Promise.resolve())(),
    getAnonymousId: (): string => get((c) => c.anonymousId, '')(),
    getIdentities: (): Record<string, string> => get((c) => c.identities(), {} as Record<string, string>)(),
    queued: (): number => get((c) => c.queue.items.length, 0)(),
  };
}
