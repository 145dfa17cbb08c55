/**
 * Event timers (`trackTimerStart` … `trackTimerEnd`): how long something took, in seconds, as
 * the ended event's `$event_duration`. Paused stretches do not count. Timers live in memory:
 * a reload forgets them, as in Sensors' SDKs.
 */

interface Timer {
  /** Time counted before the current running stretch, ms. */
  elapsed: number;
  /** Start of the current running stretch, or null while paused. */
  since: number | null;
}

export class EventTimers {
  private timers: Record<string, Timer> = {};

  constructor(private now: () => number) {}

  /** Start (or restart from zero) the timer of `event`. */
  start(event: string): void {
    this.timers[event] = { elapsed: 0, since: this.now() };
  }

  pause(event: string): void {
    const t = this.timers[event];
    if (t && t.since !== null) {
      t.elapsed += this.now() - t.since;
      t.since = null;
    }
  }

  resume(event: string): void {
    const t = this.timers[event];
    if (t && t.since === null) t.since = this.now();
  }

  /** Stop the timer of `event`: its duration in seconds (ms precision), or null when none ran. */
  end(event: string): number | null {
    const t = this.timers[event];
    if (!t) return null;
    delete this.timers[event];
    const ms = t.elapsed + (t.since !== null ? this.now() - t.since : 0);
    return Math.max(0, Math.round(ms)) / 1000;
  }

  clear(): void {
    this.timers = {};
  }
}
