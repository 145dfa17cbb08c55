/** Pure-ish helpers over the page: query parameters, utm, share links, element descriptions. */
import type { Props } from '../core/types';

export const SHARER_PARAM = 'siyu_sharer';
export const DEPTH_PARAM = 'siyu_depth';
const UTM = ['source', 'medium', 'campaign', 'term', 'content'];

export function parseQuery(search: string): Record<string, string> {
  const out: Record<string, string> = {};
  const q = search.charAt(0) === '?' ? search.slice(1) : search;
  for (const part of q.split('&')) {
    if (!part) continue;
    const i = part.indexOf('=');
    const k = i < 0 ? part : part.slice(0, i);
    try {
      out[decodeURIComponent(k)] = i < 0 ? '' : decodeURIComponent(part.slice(i + 1).replace(/\+/g, ' '));
    } catch {
      // malformed escape: skip this parameter
    }
  }
  return out;
}

/** `utm_*` parameters as `{source, medium, …}`, or null when there are none. */
export function utmOf(query: Record<string, string>): Record<string, string> | null {
  let found: Record<string, string> | null = null;
  for (const name of UTM) {
    const v = query['utm_' + name];
    if (v) (found = found || {})[name] = v;
  }
  return found;
}

// Entry parameters of a landing URL or a mini-program entry → their `context` field.
const ENTRY: Array<[string, string]> = [
  ['qr_id', 'qr'],
  ['material_id', 'material'],
  ['channel', 'channel'],
];

/** Live-code id, material and channel of an entry (`qr_id`, `material_id`, `channel`) as context fields. */
export function entryFieldsOf(query: Record<string, string>): Record<string, string> | null {
  let found: Record<string, string> | null = null;
  for (const [param, field] of ENTRY) {
    const v = query[param];
    if (v) (found = found || {})[field] = v;
  }
  return found;
}

export interface Share {
  sharer: string;
  depth: number;
  path: string;
}

/** The share a visitor arrived through, from the landing URL's `siyu_sharer`/`siyu_depth`. */
export function shareOf(query: Record<string, string>, path: string): Share | null {
  const sharer = query[SHARER_PARAM];
  if (!sharer) return null;
  const depth = parseInt(query[DEPTH_PARAM], 10);
  return { sharer, depth: depth > 0 ? depth : 1, path };
}

/** `url` with `params` set (replacing earlier values), hash kept. */
export function withParams(url: string, params: Record<string, string>): string {
  const hashAt = url.indexOf('#');
  const hash = hashAt >= 0 ? url.slice(hashAt) : '';
  const base = hashAt >= 0 ? url.slice(0, hashAt) : url;
  const qAt = base.indexOf('?');
  const path = qAt >= 0 ? base.slice(0, qAt) : base;
  const kept = (qAt >= 0 ? base.slice(qAt + 1).split('&') : []).filter((p) => {
    const k = p.split('=')[0];
    return p && !(decodeSafe(k) in params);
  });
  for (const k in params) kept.push(encodeURIComponent(k) + '=' + encodeURIComponent(params[k]));
  return path + (kept.length ? '?' + kept.join('&') : '') + hash;
}

function decodeSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** At most `n` UTF-16 units of `text`, never ending in half of a surrogate pair (an emoji stays whole or goes). */
export function clip(text: string, n: number): string {
  if (text.length <= n) return text;
  const code = text.charCodeAt(n - 1);
  return text.slice(0, code >= 0xd800 && code <= 0xdbff ? n - 1 : n);
}

export function hostOf(url: string): string {
  const m = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]+)/i.exec(url || '');
  return m ? m[1] : '';
}

// Elements whose click is an intent worth an event.
const CLICKABLE = 'a,button,input[type=button],input[type=submit],input[type=reset],[role=button],[data-siyu-click]';

/** The clicked element worth reporting: the closest clickable ancestor of the target. */
export function clickTarget(target: EventTarget | null): Element | null {
  const el = target instanceof Element ? target : null;
  if (!el || !el.closest) return null;
  return el.closest(CLICKABLE);
}

/** A CSS selector that finds `el` again: ids where present, else tag:nth-of-type steps. */
export function selectorOf(el: Element): string {
  const steps: string[] = [];
  let node: Element | null = el;
  while (node && node.nodeType === 1 && steps.length < 12) {
    const tag = node.tagName.toLowerCase();
    if (node.id && /^[A-Za-z][\w-]*$/.test(node.id)) {
      steps.unshift(tag + '#' + node.id);
      break;
    }
    if (tag === 'html' || tag === 'body') {
      steps.unshift(tag);
      if (tag === 'html') break;
      node = node.parentElement;
      continue;
    }
    let nth = 1;
    for (let sib = node.previousElementSibling; sib; sib = sib.previousElementSibling) {
      if (sib.tagName === node.tagName) nth++;
    }
    steps.unshift(tag + ':nth-of-type(' + nth + ')');
    node = node.parentElement;
  }
  return steps.join(' > ');
}

export function describeElement(el: Element): Props {
  const input = el as HTMLInputElement;
  const text = (el.tagName === 'INPUT' ? input.value : (el as HTMLElement).innerText || el.textContent || '') || '';
  const props: Props = {
    $element_type: el.tagName.toLowerCase(),
    $element_content: clip(text.replace(/\s+/g, ' ').trim(), 255),
    $element_selector: selectorOf(el),
  };
  const href = el.getAttribute('href');
  if (href) props.$element_target_url = (el as HTMLAnchorElement).href || href;
  if (el.id) props.$element_id = el.id;
  const cls = el.getAttribute('class');
  if (cls) props.$element_class_name = cls;
  const name = el.getAttribute('data-siyu-click');
  if (name) props.$element_name = name;
  return props;
}
