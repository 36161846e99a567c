/**
 * Mutations shared by the fuzz kinds: hostile JSON values, edits of JSON objects (a field replaced,
 * removed, added, retyped) and of bytes (flips, truncation, appended junk, spliced chunks).
 */
import type { Rand } from './harness';

/** Values a hostile or corrupt file puts where a well-formed one has something sensible. */
export const HOSTILE_VALUES: readonly unknown[] = [
  -1, 0, 1, 2, -0.5, 0.5, 1.5, 2.0, 3, 7, 100, 1e3, 1e6, 1e9, 1e12, 2 ** 31, 2 ** 31 - 1, 2 ** 32, 2 ** 53, 2 ** 64, -(2 ** 31),
  1e308, -1e308, 5e-324, 1e-12, -1e-12,
  '', ' ', 'x', '0', '1', '-1', '1e3', 'NaN', 'Infinity', 'true', 'null', '__proto__', 'constructor', '\u0000', '../../etc/passwd', 'é',
  'a'.repeat(300), true, false, null, [], [1, 2], ['a'], [[1]], [null], {}, { a: 1 }, { '0': 'x' }, { __proto__: null, x: 1 },
];

export function hostileValue(rand: Rand): unknown {
  const v = rand.pick(HOSTILE_VALUES);
  return typeof v === 'object' && v !== null ? structuredClone(v) : v;
}

/** A deep copy with one to three edits: a field set to a hostile value, removed, added, or the root retyped. */
export function mutateJson(value: unknown, rand: Rand, keys: readonly string[] = []): unknown {
  if (rand.chance(0.03)) return hostileValue(rand); // the whole file is something else
  const out = structuredClone(value);
  const edits = 1 + rand.int(3);
  for (let e = 0; e < edits; e++) editOnce(out, rand, keys);
  return out;
}

function containers(v: unknown, into: Array<Record<string, unknown> | unknown[]> = [], depth = 0): Array<Record<string, unknown> | unknown[]> {
  if (depth > 6 || typeof v !== 'object' || v === null) return into;
  into.push(v as Record<string, unknown>);
  for (const x of Object.values(v)) containers(x, into, depth + 1);
  return into;
}

function editOnce(root: unknown, rand: Rand, keys: readonly string[]): void {
  const all = containers(root);
  if (!all.length) return;
  // Mostly the top level (where the fields a loader reads live), sometimes anywhere.
  const target = rand.chance(0.6) ? all[0]! : rand.pick(all);
  const names = Object.keys(target);
  const op = rand.int(10);
  if (Array.isArray(target)) {
    if (!target.length || op < 3) target.push(hostileValue(rand));
    else if (op < 5) target.splice(rand.int(target.length), 1);
    else if (op < 7) target[rand.int(target.length)] = hostileValue(rand);
    else target.length = rand.int(target.length + 1);
    return;
  }
  const obj = target as Record<string, unknown>;
  if (op < 6 && names.length) {
    obj[rand.pick(names)] = hostileValue(rand);
  } else if (op < 8 && names.length) {
    delete obj[rand.pick(names)];
  } else {
    const key = keys.length && rand.chance(0.7) ? rand.pick(keys) : rand.pick(['zzz', '', '__proto__', 'constructor', 'a b']);
    if (key === '__proto__') Object.defineProperty(obj, key, { value: hostileValue(rand), enumerable: true, configurable: true, writable: true });
    else obj[key] = hostileValue(rand);
  }
}

/** JSON text with a syntax-level edit (cut short, a character dropped or doubled, junk appended). */
export function breakJsonText(text: string, rand: Rand): string {
  const at = rand.int(text.length + 1);
  switch (rand.int(5)) {
    case 0:
      return text.slice(0, at);
    case 1:
      return text.slice(0, at) + text.slice(at + 1);
    case 2:
      return text.slice(0, at) + text[at] + text.slice(at);
    case 3:
      return text + rand.pick(['}', ',', 'x', '\u0000', ' null', '{}']);
    default:
      return text.slice(0, at) + rand.pick(['NaN', 'Infinity', '-', '"', "'", '\\', '\uFFFF', '1e999']) + text.slice(at);
  }
}

/** Bytes with one to four edits: bit flips, bytes overwritten, cut, appended, a chunk duplicated or dropped. */
export function mutateBytes(bytes: Uint8Array, rand: Rand, region?: [number, number]): Uint8Array {
  let out: Uint8Array = bytes.slice();
  const [lo, hi] = region ?? [0, out.length];
  const edits = 1 + rand.int(4);
  for (let e = 0; e < edits; e++) {
    const span = Math.max(1, Math.min(hi, out.length) - lo);
    const at = lo + rand.int(span);
    switch (rand.int(6)) {
      case 0:
        if (at < out.length) out[at]! ^= 1 << rand.int(8);
        break;
      case 1:
        if (at < out.length) out[at] = rand.pick([0, 0xff, 0x7f, 0x80, 0x22, 0x2c, 0x7b, 0x7d, rand.int(256)]);
        break;
      case 2:
        out = out.slice(0, at);
        break;
      case 3: {
        const junk = Uint8Array.from({ length: 1 + rand.int(16) }, () => rand.int(256));
        const grown = new Uint8Array(out.length + junk.length);
        grown.set(out.subarray(0, at));
        grown.set(junk, at);
        grown.set(out.subarray(at), at + junk.length);
        out = grown;
        break;
      }
      case 4: {
        const n = 1 + rand.int(8);
        out = concat(out.subarray(0, at), out.subarray(at + n));
        break;
      }
      default: {
        const n = 1 + rand.int(8);
        out = concat(out.subarray(0, at + n), out.subarray(at, at + n), out.subarray(at + n));
      }
    }
  }
  return out;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
