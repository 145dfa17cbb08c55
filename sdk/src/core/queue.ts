/**
 * The persisted, bounded event queue.
 *
 * Every tracked event is written to storage before any send is tried, so a reload, a crash
 * or an offline spell loses nothing (up to `max` events: beyond it the oldest are dropped and
 * counted). Events leave the queue only when the collector acknowledged them (or refused them
 * for good), so a retry resends the same event ids and the server dedupes them.
 *
 * Browser tabs share one storage: each page keeps its own key (`siyu_q:<page id>`) with a
 * heartbeat, and a new page adopts the queues of pages that were closed before they could
 * deliver (released on page hide) or whose heartbeat is older than `STALE_MS` (crashed).
 */
import type { KeyValueStore, WireEvent } from './types';

// Longer than the longest retry delay (60 s by default) so a live but offline tab, which saves
// at every attempt, is never taken for a closed one.
export const STALE_MS = 5 * 60 * 1000;

interface Stored {
  t: number;
  items: WireEvent[];
}

export class Queue {
  items: WireEvent[] = [];
  dropped = 0;

  constructor(
    private store: KeyValueStore,
    private key: string,
    private max: number,
    private now: () => number,
  ) {
    this.items = read(store, key).items;
    this.trim();
  }

  /** Take over queues that other pages left behind (their heartbeat is stale). */
  adopt(prefix: string): number {
    if (!this.store.keys) return 0;
    let adopted = 0;
    const seen: Record<string, 1> = {};
    for (const e of this.items) seen[e.event_id] = 1;
    for (const key of this.store.keys()) {
      if (key === this.key || key.indexOf(prefix) !== 0) continue;
      const other = read(this.store, key);
      if (this.now() - other.t < STALE_MS) continue;
      for (const e of other.items) {
        if (!seen[e.event_id]) {
          seen[e.event_id] = 1;
          this.items.push(e);
          adopted++;
        }
      }
      this.store.remove(key);
    }
    if (adopted) {
      this.items.sort((a, b) => a.time - b.time);
      this.trim();
      this.save();
    }
    return adopted;
  }

  push(event: WireEvent): void {
    this.items.push(event);
    this.trim();
    this.save();
  }

  head(n: number): WireEvent[] {
    return this.items.slice(0, n);
  }

  /** Remove delivered (or finally refused) events by id. */
  ack(ids: string[]): void {
    if (!ids.length) return;
    const gone: Record<string, 1> = {};
    for (const id of ids) gone[id] = 1;
    this.items = this.items.filter((e) => !gone[e.event_id]);
    this.save();
  }

  /** Write the queue (and the heartbeat); when storage is full, keep the newest half. */
  save(): void {
    this.write(this.now());
  }

  /** The page is going away: mark what is left as free for the next page to adopt at once. */
  release(): void {
    this.write(0);
  }

  private write(t: number): void {
    if (!this.items.length) {
      this.store.remove(this.key);
      return;
    }
    let items = this.items;
    while (!this.store.set(this.key, JSON.stringify({ t, items } as Stored))) {
      if (items.length <= 1) return;
      items = items.slice(Math.ceil(items.length / 2));
    }
  }

  private trim(): void {
    const excess = this.items.length - this.max;
    if (excess > 0) {
      this.items.splice(0, excess);
      this.dropped += excess;
    }
  }
}

function read(store: KeyValueStore, key: string): Stored {
  try {
    const raw = store.get(key);
    const doc = raw ? JSON.parse(raw) : null;
    if (doc && Array.isArray(doc.items)) return { t: +doc.t || 0, items: doc.items.filter(valid) };
  } catch {
    // Corrupt JSON from an older or broken write: start empty rather than fail the host page.
  }
  return { t: 0, items: [] };
}

function valid(e: unknown): e is WireEvent {
  return !!e && typeof (e as WireEvent).event_id === 'string' && typeof (e as WireEvent).event === 'string';
}
