/**
 * User-property operations: what each call puts in the `properties` of its `profile_*` event.
 * Values Sensors would refuse are dropped here (a call left with nothing sends nothing), so
 * the server only ever sees well-formed operations.
 */
import type { ProfileType, Props } from './types';

/**
 * The `properties` of a `profile_*` event for what the caller passed, or null when nothing is
 * left to send.
 *   profile_set / profile_set_once  {name: value}
 *   profile_increment               {name: number}; a bare name means {name: 1}
 *   profile_append                  {name: string[]}; a string value is a one-item list
 *   profile_unset                   a name or a list of names → {name: true}
 *   profile_delete                  {} (the whole profile)
 */
export function profileProps(type: ProfileType, input: unknown): Props | null {
  if (type === 'profile_delete') return {};
  const out: Props = {};
  if (type === 'profile_unset') {
    for (const name of Array.isArray(input) ? input : [input]) if (typeof name === 'string' && name) out[name] = true;
  } else if (type === 'profile_increment' && typeof input === 'string') {
    if (input) out[input] = 1;
  } else if (input && typeof input === 'object' && !Array.isArray(input)) {
    const values = input as Props;
    for (const name in values) {
      const v = values[name];
      if (type === 'profile_increment') {
        if (typeof v === 'number' && isFinite(v)) out[name] = v;
      } else if (type === 'profile_append') {
        const list = (Array.isArray(v) ? v : [v]).filter((x) => typeof x === 'string');
        if (list.length) out[name] = list;
      } else if (v !== undefined && typeof v !== 'function') out[name] = v;
    }
  }
  for (const _ in out) return out;
  return null;
}
