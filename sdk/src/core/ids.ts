/** Identifiers: random event and anonymous ids, and which identity values are junk. */

let counter = 0;

/** A random 128-bit id as 32 hex chars; unique per event so the server dedupes retries by it. */
export function randomId(random: (n: number) => Uint8Array): string {
  const bytes = random(16);
  let out = '';
  for (let i = 0; i < 16; i++) out += (bytes[i] + 256).toString(16).slice(1);
  return out;
}

/** Random bytes without crypto (old mini-program base libraries): time, counter and Math.random. */
export function weakRandom(n: number): Uint8Array {
  const out = new Uint8Array(n);
  const seed = Date.now() + ++counter * 7919;
  for (let i = 0; i < n; i++) out[i] = (Math.random() * 256 + seed / (i + 1)) & 255;
  return out;
}

// Values that SDKs and apps send when an id is missing; the collector ignores them too.
const JUNK = ['', 'null', 'none', 'undefined', '0', '-1', 'anonymous', '[object object]', 'nan', 'nil'];

export function isJunkId(value: unknown): boolean {
  if (typeof value !== 'string' && typeof value !== 'number') return true;
  return JUNK.indexOf(String(value).trim().toLowerCase()) >= 0;
}

/**
 * Size of `text` in UTF-8 bytes, at most 1.5× over (each half of a surrogate pair counts 3).
 * Browser limits (keepalive, sendBeacon: 64 KiB) are in bytes, and CJK or emoji text takes
 * 3–4 bytes per character, so `text.length` would let bodies through that the browser refuses.
 */
export function utf8Bytes(text: string): number {
  let n = text.length;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code >= 0x80) n += code >= 0x800 ? 2 : 1;
  }
  return n;
}
