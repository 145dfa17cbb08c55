/** Entry attribution of a mini-program visit: scene, query, utm and the share it came through. */
import type { Props } from '../core/types';
import { DEPTH_PARAM, SHARER_PARAM, type Share, shareOf, utmOf } from '../h5/page';
import type { EnterOptions } from './env';

export interface Entry {
  scene?: number;
  path: string;
  query: Record<string, string>;
  share: Share | null;
  utm: Record<string, string> | null;
  shareTicket?: string;
}

export function entryOf(opts: EnterOptions | undefined): Entry {
  const o = opts || {};
  const query: Record<string, string> = {};
  const raw = o.query || {};
  for (const k in raw) query[k] = String(raw[k]);
  const path = '/' + String(o.path || '').replace(/^\//, '');
  return {
    scene: typeof o.scene === 'number' ? o.scene : undefined,
    path,
    query,
    share: shareOf(query, path),
    utm: utmOf(query),
    shareTicket: o.shareTicket,
  };
}

export function entryContext(e: Entry | null): Props {
  const ctx: Props = {};
  if (!e) return ctx;
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
