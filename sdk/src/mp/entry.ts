/**
 * Entry attribution of a mini-program visit: scene, query, utm, the share it came through, and
 * the live code / material / channel it was opened from.
 *
 * Codes made with `wxacode.getUnlimited` deliver their `scene` string URL-encoded in
 * `query.scene`. Its decoded value is read as follows:
 *   - with a `=` in it, it is a query string (`qr=Q1&ch=poster`): its pairs join the entry
 *     query (parameters of the query itself win). The 32-character limit of `scene` allows
 *     the short names `qr`, `mat` and `ch` for `qr_id`, `material_id` and `channel`;
 *   - without one, the whole value is the live-code id (`qr_id`).
 * A code whose `scene` means something else (a product id, …) should use the `k=v` form with
 * other names (`id=123`): then no code id is read from it.
 */
import type { Props } from '../core/types';
import { DEPTH_PARAM, entryFieldsOf, parseQuery, SHARER_PARAM, type Share, shareOf, utmOf } from '../h5/page';
import type { EnterOptions } from './env';

export interface Entry {
  scene?: number;
  path: string;
  query: Record<string, string>;
  share: Share | null;
  utm: Record<string, string> | null;
  /** `qr`, `material`, `channel` context fields. */
  fields: Record<string, string> | null;
  shareTicket?: string;
}

const SCENE_ALIASES: Record<string, string> = { qr: 'qr_id', mat: 'material_id', ch: 'channel' };

/** The entry query with the pairs of an unlimited code's `scene` added (see the module doc). */
export function entryQuery(query: Record<string, string>): Record<string, string> {
  const raw = query.scene;
  if (!raw) return query;
  let scene = raw;
  try {
    scene = decodeURIComponent(raw);
  } catch {
    // not URL-encoded after all: read it as it is
  }
  const out: Record<string, string> = {};
  if (scene.indexOf('=') < 0) out.qr_id = scene;
  else {
    const pairs = parseQuery(scene);
    for (const k in pairs) out[SCENE_ALIASES[k] || k] = pairs[k];
  }
  for (const k in query) out[k] = query[k];
  return out;
}

export function entryOf(opts: EnterOptions | undefined): Entry {
  const o = opts || {};
  const query: Record<string, string> = {};
  const raw = o.query || {};
  for (const k in raw) query[k] = String(raw[k]);
  const path = '/' + String(o.path || '').replace(/^\//, '');
  const attribution = entryQuery(query);
  return {
    scene: typeof o.scene === 'number' ? o.scene : undefined,
    path,
    query,
    share: shareOf(attribution, path),
    utm: utmOf(attribution),
    fields: entryFieldsOf(attribution),
    shareTicket: o.shareTicket,
  };
}

export function entryContext(e: Entry | null): Props {
  if (!e) return {};
  const ctx: Props = { ...e.fields };
  if (e.scene !== undefined) ctx.scene = e.scene;
  if (e.share) ctx.share = e.share;
  if (e.utm) ctx.utm = e.utm;
  return ctx;
}

export function queryString(query: Record<string, unknown> | undefined): string {
  const parts: string[] = [];
  for (const k in query || {}) parts.push(encodeURIComponent(k) + '=' + encodeURIComponent(String((query as Props)[k])));
  return parts.join('&');
}

export { DEPTH_PARAM, SHARER_PARAM };
