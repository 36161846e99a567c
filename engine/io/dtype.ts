/**
 * Element types and their conversions: sizes, byte order, half precision (F16 / BF16) to and from float32, and
 * raw bytes → the engine's float32 / int32 host arrays. Shared by the safetensors and torch readers and the
 * writers; no file format lives here.
 */
import { PeftStudioError } from '../errors';
import type { DType } from './types';

export const DTYPE_SIZE: Record<DType, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

export function isDType(s: unknown): s is DType {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(DTYPE_SIZE, s);
}

const HOST_LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Copies `count` elements of `size` bytes starting at `begin` into a fresh, aligned buffer in host byte
 * order. The copy is what makes unaligned file offsets safe (typed arrays cannot view them).
 */
function copyElements(bytes: Uint8Array, begin: number, count: number, size: number): ArrayBuffer {
  const out = new Uint8Array(count * size);
  out.set(bytes.subarray(begin, begin + count * size));
  if (!HOST_LE && size > 1) {
    for (let i = 0; i < out.length; i += size) out.subarray(i, i + size).reverse();
  }
  return out.buffer;
}

/** Returns bytes in little-endian order (a view when the host already is little-endian). */
export function toLittleEndianBytes(a: Float32Array | Int32Array | Uint16Array | BigInt64Array): Uint8Array {
  const view = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  if (HOST_LE || a.BYTES_PER_ELEMENT === 1) return view;
  const out = view.slice();
  for (let i = 0; i < out.length; i += a.BYTES_PER_ELEMENT) out.subarray(i, i + a.BYTES_PER_ELEMENT).reverse();
  return out;
}

let halfTable: Float32Array | undefined;

/** All 65536 halves as float32, built from bits so NaN payloads and signed zeros survive. */
function f16Table(): Float32Array {
  if (halfTable) return halfTable;
  const table = new Float32Array(65536);
  const bits = new Uint32Array(table.buffer);
  for (let h = 0; h < 65536; h++) {
    const sign = (h & 0x8000) << 16;
    const exp = (h >> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0) {
      // zero or subnormal: mant · 2^-24 is exact in float32
      table[h] = (sign ? -1 : 1) * mant * 2 ** -24;
    } else if (exp === 31) {
      bits[h] = (sign | 0x7f800000 | (mant << 13)) >>> 0;
    } else {
      bits[h] = (sign | ((exp - 15 + 127) << 23) | (mant << 13)) >>> 0;
    }
  }
  halfTable = table;
  return table;
}

export function f16BitsToFloat32(h: number): number {
  return f16Table()[h & 0xffff]!;
}

/** float32 bits → half bits, round to nearest even; overflow → ±inf, NaN stays NaN (quiet). */
export function float32BitsToF16(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 | (mant >>> 13) : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // result is a half subnormal: shift the full significand so that one unit is 2^-24
    if (e < -10) return sign; // below half the smallest subnormal: rounds to zero
    const m = mant | 0x800000;
    const shift = 14 - e;
    let half = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && half & 1)) half++;
    return sign | half;
  }
  let h = sign | (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++; // a carry into the exponent is still correct
  return h;
}

/** float32 bits → bfloat16 bits, round to nearest even; NaN stays NaN (quiet). */
export function float32BitsToBF16(x: number): number {
  if ((x & 0x7fffffff) >>> 0 > 0x7f800000) return ((x >>> 16) | 0x40) & 0xffff;
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

/** Float32 values → 16-bit words of the requested type. */
export function encodeHalf(data: Float32Array, dtype: 'F16' | 'BF16'): Uint16Array {
  const src = new Uint32Array(data.buffer, data.byteOffset, data.length);
  const out = new Uint16Array(data.length);
  const conv = dtype === 'F16' ? float32BitsToF16 : float32BitsToBF16;
  for (let i = 0; i < src.length; i++) out[i] = conv(src[i]!);
  return out;
}

/**
 * Decodes `count` elements of `dtype` at `begin` into the HostTensor array. `where` names the tensor
 * and file for the one error this can raise: an I64 value that does not fit in int32.
 */
export function decodeElements(
  bytes: Uint8Array,
  begin: number,
  count: number,
  dtype: DType,
  where: { file: string; name: string },
): Float32Array | Int32Array {
  const size = DTYPE_SIZE[dtype];
  const buf = copyElements(bytes, begin, count, size);
  switch (dtype) {
    case 'F32':
      return new Float32Array(buf);
    case 'F64':
      return Float32Array.from(new Float64Array(buf));
    case 'F16': {
      // Copy bits, not numbers: a float32 NaN passing through a JS number may lose its payload.
      const table = new Uint32Array(f16Table().buffer);
      const src = new Uint16Array(buf);
      const out = new Float32Array(count);
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < count; i++) bits[i] = table[src[i]!]!;
      return out;
    }
    case 'BF16': {
      const src = new Uint16Array(buf);
      const out = new Float32Array(count);
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < count; i++) bits[i] = src[i]! << 16;
      return out;
    }
    case 'I64': {
      const words = new Int32Array(buf); // (low, high) pairs in host order after the copy
      const lowIdx = HOST_LE ? 0 : 1;
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) {
        const lo = words[2 * i + lowIdx]!;
        const hi = words[2 * i + 1 - lowIdx]!;
        if (hi !== lo >> 31) {
          const value = new BigInt64Array(buf, 8 * i, 1)[0];
          throw new PeftStudioError(
            'BAD_WEIGHTS',
            `${where.file}: tensor "${where.name}" (I64) holds ${value} at element ${i}, which does not fit in int32.`,
            where.file,
          );
        }
        out[i] = lo;
      }
      return out;
    }
    case 'I32':
      return new Int32Array(buf);
    case 'I16':
      return Int32Array.from(new Int16Array(buf));
    case 'I8':
      return Int32Array.from(new Int8Array(buf));
    case 'U8':
      return Int32Array.from(new Uint8Array(buf));
    case 'BOOL':
      return Int32Array.from(new Uint8Array(buf), (v) => (v ? 1 : 0));
  }
}

