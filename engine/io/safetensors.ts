/**
 * Safetensors reader and writer (https://github.com/huggingface/safetensors): u64 LE header length N,
 * N bytes of UTF-8 JSON `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {..}}`, then
 * raw little-endian C-order bytes. The file is untrusted input, so every field is validated and each
 * failure says which file, which tensor and what is wrong.
 *
 * This module also holds the byte-level dtype conversions the PyTorch reader shares: raw tensor bytes →
 * HostTensor arrays (float32 / int32), and float32 → F16/BF16 for writing. Widening is bit-exact
 * (subnormals, ±inf and NaN payloads included); narrowing rounds to nearest-even like numpy and torch.
 */
import * as fs from 'node:fs';
import { PeftStudioError } from '../errors';
import { ioError, writeFileAtomic } from './atomic';
import type { DType, HostTensor, StateDict } from './types';

export { DTYPE_SIZE, decodeElements, encodeHalf, f16BitsToFloat32, float32BitsToBF16, float32BitsToF16, isDType, toLittleEndianBytes } from './dtype';
import { DTYPE_SIZE, decodeElements, encodeHalf, isDType, toLittleEndianBytes } from './dtype';

/** A Git LFS pointer instead of the weights is a common mistake worth its own message. */
export function checkNotLfsPointer(bytes: Uint8Array, file: string): void {
  const head = Buffer.from(bytes.subarray(0, 40)).toString('latin1');
  if (head.startsWith('version https://git-lfs')) {
    throw new PeftStudioError(
      'BAD_WEIGHTS',
      `${file} is a Git LFS pointer (${bytes.length} bytes), not the weights themselves. Run \`git lfs pull\` in the model folder, or download the file again.`,
      file,
    );
  }
}

// ---------------------------------------------------------------------------------------------------
// Reading

/** The reference implementation refuses headers above 100 MB; a bigger one means a corrupt length. */
const MAX_HEADER_BYTES = 100_000_000;

/** Safetensors dtypes that are valid in the format but that PEFT Studio does not convert. */
const KNOWN_UNSUPPORTED = new Set(['U16', 'U32', 'U64', 'F8_E4M3', 'F8_E5M2', 'F8_E8M0', 'F6_E2M3', 'F6_E3M2', 'F4', 'C64']);

function bad(file: string, problem: string): PeftStudioError {
  return new PeftStudioError('BAD_WEIGHTS', `${file}: ${problem}`, file);
}

interface Entry {
  name: string;
  dtype: DType;
  shape: number[];
  begin: number;
  end: number;
}

function parseEntry(name: string, info: unknown, file: string, dataLen: number): Entry {
  const where = `tensor "${name}"`;
  if (typeof info !== 'object' || info === null || Array.isArray(info)) {
    throw bad(file, `${where}: header entry must be an object with dtype, shape and data_offsets.`);
  }
  const { dtype, shape, data_offsets: offsets } = info as Record<string, unknown>;
  if (dtype === undefined || shape === undefined || offsets === undefined) {
    const missing = ['dtype', 'shape', 'data_offsets'].filter((k) => !(k in info));
    throw bad(file, `${where}: header entry is missing ${missing.join(', ')}.`);
  }
  if (typeof dtype !== 'string') throw bad(file, `${where}: dtype must be a string, got ${JSON.stringify(dtype)}.`);
  if (!isDType(dtype)) {
    if (KNOWN_UNSUPPORTED.has(dtype)) {
      throw new PeftStudioError('UNSUPPORTED', `${file}: ${where} has dtype ${dtype}, which PEFT Studio cannot load.`, file);
    }
    throw bad(file, `${where}: unknown dtype "${dtype}".`);
  }
  if (!Array.isArray(shape)) throw bad(file, `${where}: shape must be an array, got ${JSON.stringify(shape)}.`);
  for (const d of shape) {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) {
      throw bad(file, `${where}: shape ${JSON.stringify(shape)} has an invalid dimension ${JSON.stringify(d)} (must be a non-negative integer).`);
    }
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => typeof o === 'number' && Number.isSafeInteger(o) && o >= 0)) {
    throw bad(file, `${where}: data_offsets must be [begin, end] non-negative integers, got ${JSON.stringify(offsets)}.`);
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end) throw bad(file, `${where}: data_offsets [${begin}, ${end}] begin after they end.`);
  if (end > dataLen) {
    throw bad(file, `${where}: data_offsets [${begin}, ${end}] run past the end of the data region (${dataLen} bytes); the file may be truncated.`);
  }
  const numel = (shape as number[]).reduce((a, b) => a * b, 1);
  const expected = numel * DTYPE_SIZE[dtype];
  if (!Number.isSafeInteger(expected) || expected !== end - begin) {
    throw bad(
      file,
      `${where}: shape ${JSON.stringify(shape)} of ${dtype} needs ${expected} bytes but data_offsets [${begin}, ${end}] hold ${end - begin} bytes.`,
    );
  }
  return { name, dtype, shape: shape as number[], begin, end };
}

function parseMetadata(value: unknown, file: string): Record<string, string> {
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw bad(file, `__metadata__ must be an object of strings, got ${JSON.stringify(value)}.`);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw bad(file, `__metadata__ "${k}" must be a string, got ${JSON.stringify(v)}.`);
    out[k] = v;
  }
  return out;
}

/** Parses a whole safetensors file held in memory. `file` is only used in error messages. */
export function parseSafetensors(bytes: Uint8Array, file: string): { tensors: StateDict; metadata: Record<string, string> } {
  checkNotLfsPointer(bytes, file);
  if (bytes.length < 8) throw bad(file, `file is ${bytes.length} bytes, shorter than the 8-byte header length; it is not a safetensors file or is truncated.`);
  const n = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) throw bad(file, `header length ${n} is absurdly large (limit ${MAX_HEADER_BYTES}); the file is corrupt or not safetensors.`);
  const headerLen = Number(n);
  if (8 + headerLen > bytes.length) {
    throw bad(file, `header length ${headerLen} runs past the end of the file (${bytes.length} bytes); the file is truncated or not safetensors.`);
  }
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLen)));
  } catch (err) {
    throw bad(file, `header is not valid UTF-8 JSON (${err instanceof Error ? err.message : String(err)}).`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw bad(file, 'header JSON must be an object.');

  const dataStart = 8 + headerLen;
  const dataLen = bytes.length - dataStart;
  let metadata: Record<string, string> = {};
  const entries: Entry[] = [];
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') metadata = parseMetadata(info, file);
    else entries.push(parseEntry(name, info, file, dataLen));
  }

  // File order is data order: JSON key order is not reliable in JS (integer-like names sort first).
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  // As the reference reader: the tensors tile the data region exactly, from byte 0 to its end, with no gap,
  // overlap or leftover. A header length off by a few bytes shifts every tensor; this is what catches it.
  let covered = 0;
  for (let i = 0; i < entries.length; i++) {
    const cur = entries[i]!;
    if (cur.begin < covered) {
      const prev = entries[i - 1]!;
      throw bad(file, `tensors "${prev.name}" [${prev.begin}, ${prev.end}] and "${cur.name}" [${cur.begin}, ${cur.end}] overlap.`);
    }
    if (cur.begin > covered) {
      const after = i === 0 ? 'the start of the data region' : `tensor "${entries[i - 1]!.name}" (which ends at ${covered})`;
      throw bad(file, `tensor "${cur.name}" begins at data offset ${cur.begin}, leaving ${cur.begin - covered} bytes unaccounted for after ${after}; data_offsets must tile the data region without gaps.`);
    }
    covered = cur.end;
  }
  if (covered !== dataLen) {
    throw bad(
      file,
      `the tensors' data_offsets cover ${covered} bytes but the data region after the ${headerLen}-byte header holds ${dataLen} bytes ` +
        `(${dataLen - covered} bytes unaccounted for); the header length or the offsets are wrong, or data was appended.`,
    );
  }

  const tensors: StateDict = new Map();
  for (const e of entries) {
    const numel = (e.end - e.begin) / DTYPE_SIZE[e.dtype];
    const data = decodeElements(bytes, dataStart + e.begin, numel, e.dtype, { file, name: e.name });
    tensors.set(e.name, { dtype: e.dtype, shape: e.shape, data });
  }
  return { tensors, metadata };
}

/** Reads a file whole; a missing file is MISSING_FILE, other fs failures IO. */
export function readFileOrThrow(file: string): Uint8Array {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new PeftStudioError('MISSING_FILE', `${file} does not exist.`, file);
    }
    throw ioError(file, err, 'read');
  }
}

export function readSafetensors(file: string): { tensors: StateDict; metadata: Record<string, string> } {
  return parseSafetensors(readFileOrThrow(file), file);
}

// ---------------------------------------------------------------------------------------------------
// Writing

export type WritableDType = 'F32' | 'F16' | 'BF16' | 'I64' | 'I32';

export interface TensorToWrite {
  name: string;
  dtype: WritableDType;
  shape: number[];
  /** Float32Array for F32/F16/BF16; Int32Array for I32; Int32Array or BigInt64Array for I64. */
  data: Float32Array | Int32Array | BigInt64Array;
}

export type TensorsToWrite = TensorToWrite[] | Record<string, Omit<TensorToWrite, 'name'>>;

function badInput(problem: string): PeftStudioError {
  return new PeftStudioError('BAD_INPUT', `Cannot write safetensors: ${problem}`);
}

function encodeTensor(t: TensorToWrite): Uint8Array {
  const { name, dtype, data } = t;
  const wrongType = () => badInput(`tensor "${name}" has dtype ${dtype} but its data is a ${data.constructor.name}.`);
  switch (dtype) {
    case 'F32':
      if (!(data instanceof Float32Array)) throw wrongType();
      return toLittleEndianBytes(data);
    case 'F16':
    case 'BF16':
      if (!(data instanceof Float32Array)) throw wrongType();
      return toLittleEndianBytes(encodeHalf(data, dtype));
    case 'I32':
      if (!(data instanceof Int32Array)) throw wrongType();
      return toLittleEndianBytes(data);
    case 'I64':
      if (data instanceof BigInt64Array) return toLittleEndianBytes(data);
      if (!(data instanceof Int32Array)) throw wrongType();
      return toLittleEndianBytes(BigInt64Array.from(data, (v) => BigInt(v)));
    default:
      throw badInput(`tensor "${name}" has dtype ${String(dtype)}; writable dtypes are F32, F16, BF16, I64, I32.`);
  }
}

/**
 * Serializes tensors in the order given. The header is compact JSON with `__metadata__` first, padded
 * with spaces to a multiple of 8 bytes like the reference implementation, so the data region is aligned.
 */
export function serializeSafetensors(tensors: TensorsToWrite, metadata?: Record<string, string>): Uint8Array {
  const list: TensorToWrite[] = Array.isArray(tensors) ? tensors : Object.entries(tensors).map(([name, t]) => ({ name, ...t }));
  const parts: string[] = [];
  if (metadata && Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata)) if (typeof v !== 'string') throw badInput(`metadata "${k}" is not a string.`);
    parts.push(`"__metadata__":${JSON.stringify(metadata)}`);
  }
  const seen = new Set<string>();
  const blobs: Uint8Array[] = [];
  let offset = 0;
  for (const t of list) {
    if (t.name === '__metadata__' || seen.has(t.name)) throw badInput(`tensor name "${t.name}" is reserved or repeated.`);
    seen.add(t.name);
    if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw badInput(`tensor "${t.name}" has an invalid shape ${JSON.stringify(t.shape)}.`);
    const numel = t.shape.reduce((a, b) => a * b, 1);
    if (numel !== t.data.length) throw badInput(`tensor "${t.name}" has shape ${JSON.stringify(t.shape)} (${numel} elements) but ${t.data.length} values.`);
    const blob = encodeTensor(t);
    // Built by hand rather than from one object: JS would move integer-like tensor names to the front.
    parts.push(`${JSON.stringify(t.name)}:${JSON.stringify({ dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + blob.length] })}`);
    blobs.push(blob);
    offset += blob.length;
  }
  const json = Buffer.from(`{${parts.join(',')}}`, 'utf8');
  const headerLen = json.length + ((8 - (json.length % 8)) % 8);
  const out = new Uint8Array(8 + headerLen + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLen), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLen);
  let at = 8 + headerLen;
  for (const blob of blobs) {
    out.set(blob, at);
    at += blob.length;
  }
  return out;
}

export function writeSafetensors(file: string, tensors: TensorsToWrite, metadata?: Record<string, string>): void {
  writeFileAtomic(file, serializeSafetensors(tensors, metadata));
}

/** Convenience for code that holds HostTensors: the float ones are written as F32, integer ones as I32/I64. */
export function hostTensorsToWrite(tensors: StateDict): TensorToWrite[] {
  return [...tensors].map(([name, t]: [string, HostTensor]) => ({
    name,
    dtype: t.data instanceof Float32Array ? 'F32' : t.dtype === 'I64' ? 'I64' : 'I32',
    shape: t.shape,
    data: t.data,
  }));
}
