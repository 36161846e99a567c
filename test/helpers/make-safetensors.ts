/**
 * Test conveniences for safetensors: good files via the real serializer, and bad ones crafted by
 * rewriting the header of a good file (so each test breaks exactly one thing).
 */
import { serializeSafetensors, type TensorsToWrite } from '../../engine/io/safetensors';

/** A valid file, as the engine would write it. */
export function makeSafetensors(tensors: TensorsToWrite, metadata?: Record<string, string>): Uint8Array {
  return serializeSafetensors(tensors, metadata);
}

/** Any header (object or raw JSON text) followed by `data`; the length prefix is honest unless given. */
export function rawSafetensors(header: unknown, data: Uint8Array = new Uint8Array(), headerLength?: number | bigint): Uint8Array {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header), 'utf8');
  return rawWithHeaderBytes(json, data, headerLength);
}

/** Like rawSafetensors, for headers that are not even valid UTF-8. */
export function rawWithHeaderBytes(json: Uint8Array, data: Uint8Array = new Uint8Array(), headerLength?: number | bigint): Uint8Array {
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength ?? json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

/** Splits a file into its parsed header and its data region. */
export function splitSafetensors(bytes: Uint8Array): { header: Record<string, any>; data: Uint8Array } {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  return { header: JSON.parse(Buffer.from(bytes.subarray(8, 8 + n)).toString('utf8')), data: bytes.slice(8 + n) };
}

/** Re-emits `bytes` with its header changed by `mutate` (edit in place or return a replacement). */
export function corruptHeader(bytes: Uint8Array, mutate: (header: Record<string, any>) => unknown): Uint8Array {
  const { header, data } = splitSafetensors(bytes);
  const replaced = mutate(header);
  return rawSafetensors(replaced === undefined ? header : replaced, data);
}

/** The same file with a lying u64 header length. */
export function withHeaderLength(bytes: Uint8Array, n: number | bigint): Uint8Array {
  const out = bytes.slice();
  new DataView(out.buffer).setBigUint64(0, BigInt(n), true);
  return out;
}

/** The first `n` bytes only, as after an interrupted download. */
export function truncate(bytes: Uint8Array, n: number): Uint8Array {
  return bytes.slice(0, n);
}
