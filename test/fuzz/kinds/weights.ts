/**
 * Weight files: safetensors (headers, offsets, dtypes, header lengths, truncation, appended or flipped
 * bytes) and pytorch_model.bin (the ZIP container and the pickle inside it, byte-mutated), parsed in memory.
 */
import { DTYPE_SIZE, parseSafetensors, serializeSafetensors, type TensorToWrite } from '../../../engine/io/safetensors';
import { parseTorchBin } from '../../../engine/io/torch-pickle';
import type { StateDict } from '../../../engine/io/types';
import { makeTorchZip, simpleSpec } from '../../helpers/make-torch-zip';
import { rawSafetensors, splitSafetensors, withHeaderLength } from '../../helpers/make-safetensors';
import { check, type FuzzKind, type Rand } from '../harness';
import { breakJsonText, hostileValue, mutateBytes, mutateJson } from '../mutate';

const FILE = '/fuzz/model/model.safetensors';
const BIN = '/fuzz/model/pytorch_model.bin';

function randomTensors(rand: Rand): TensorToWrite[] {
  const n = 1 + rand.int(5);
  return Array.from({ length: n }, (_, i) => {
    const shape = Array.from({ length: rand.int(3) + (rand.chance(0.1) ? 0 : 1) }, () => rand.int(5));
    const numel = shape.reduce((a, b) => a * b, 1);
    const dtype = rand.pick(['F32', 'F16', 'BF16', 'I32', 'I64'] as const);
    const data = dtype === 'I32' || dtype === 'I64' ? Int32Array.from({ length: numel }, () => rand.int(100) - 50) : Float32Array.from({ length: numel }, () => rand.float() * 4 - 2);
    return { name: rand.chance(0.1) ? String(i) : `layer.${i}.${rand.pick(['weight', 'bias'])}`, dtype, shape, data };
  });
}

/** Every tensor the reader returned must be as large as its shape says. */
function checkStateDict(tensors: StateDict): void {
  for (const [name, t] of tensors) {
    const numel = t.shape.reduce((a, b) => a * b, 1);
    check(Number.isSafeInteger(numel) && t.data.length === numel, `tensor ${name}: ${t.data.length} values for shape [${t.shape}]`);
  }
}

/** A parse that succeeded must account for every byte of the data region, with the header length as written. */
function checkCoverage(bytes: Uint8Array, tensors: StateDict): void {
  checkStateDict(tensors);
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  let total = 0;
  for (const t of tensors.values()) total += t.shape.reduce((a, b) => a * b, 1) * DTYPE_SIZE[t.dtype];
  check(8 + n + total === bytes.length, `tensors cover ${total} bytes of a ${bytes.length - 8 - n}-byte data region`);
}

export const safetensorsKind: FuzzKind = {
  name: 'safetensors',
  cases: 3000,
  make(rand) {
    const good = serializeSafetensors(randomTensors(rand), rand.chance(0.3) ? { format: 'pt' } : undefined);
    const { header, data } = splitSafetensors(good);
    const headerLen = Number(new DataView(good.buffer, good.byteOffset, 8).getBigUint64(0, true));
    const names = Object.keys(header).filter((k) => k !== '__metadata__');
    const op = rand.int(10);
    let bytes: Uint8Array;
    let label: string;
    let expect: 'error' | 'any' = 'any';
    if (op === 0) {
      bytes = good;
      label = 'valid file';
    } else if (op === 1) {
      const delta = rand.pick([-8, -2, -1, 1, 2, 8, 1 << 20]);
      bytes = withHeaderLength(good, Math.max(0, headerLen + delta));
      label = `header length ${headerLen} → ${headerLen + delta}`;
      expect = 'error';
    } else if (op === 2) {
      bytes = withHeaderLength(good, rand.pick([2n ** 64n - 1n, 2n ** 63n, 2n ** 32n, 100_000_001n, 0n]));
      label = 'absurd header length';
      expect = 'error';
    } else if (op === 3) {
      const cut = rand.int(good.length);
      bytes = good.slice(0, cut);
      label = `truncated to ${cut} of ${good.length} bytes`;
      expect = data.length === 0 && cut >= 8 + headerLen ? 'any' : 'error';
    } else if (op === 4) {
      const extra = 1 + rand.int(64);
      bytes = new Uint8Array(good.length + extra);
      bytes.set(good);
      label = `${extra} bytes appended`;
      expect = 'error';
    } else if (op <= 7) {
      // One field of one entry (or the metadata, or the header) replaced by something hostile.
      const h = structuredClone(header);
      const name = names.length && rand.chance(0.85) ? rand.pick(names) : '__metadata__';
      const entry = h[name];
      if (entry && typeof entry === 'object' && rand.chance(0.8)) {
        const field = rand.pick(['dtype', 'shape', 'data_offsets']);
        const v = field === 'dtype' && rand.chance(0.5) ? rand.pick(['F64', 'I8', 'U8', 'BOOL', 'U16', 'F8_E4M3', 'f32', 'float32']) : field === 'data_offsets' && rand.chance(0.5) ? [rand.int(64), rand.int(64)] : hostileValue(rand);
        entry[field] = v;
        label = `${name}.${field} = ${JSON.stringify(v)?.slice(0, 40)}`;
      } else {
        h[name] = mutateJson(h[name] ?? {}, rand);
        label = `${name} mutated`;
      }
      bytes = rawSafetensors(rand.chance(0.1) ? mutateJson(h, rand) : h, data);
    } else if (op === 8) {
      bytes = rawSafetensors(breakJsonText(JSON.stringify(header), rand), data);
      label = 'header JSON broken';
    } else {
      bytes = mutateBytes(good, rand);
      label = 'bytes mutated';
    }
    return { label, file: FILE, expect, run: () => checkCoverage(bytes, parseSafetensors(bytes, FILE).tensors) };
  },
};

export const torchKind: FuzzKind = {
  name: 'pytorch_model.bin',
  cases: 600,
  make(rand) {
    const tensors: Record<string, { dtype: 'F32' | 'F16' | 'I64'; shape: number[]; values: number[] }> = {};
    for (const t of randomTensors(rand).slice(0, 3)) {
      const dtype = t.dtype === 'F32' || t.dtype === 'F16' ? t.dtype : t.dtype === 'BF16' ? 'F32' : 'I64';
      tensors[t.name] = { dtype, shape: t.shape, values: Array.from(t.data as ArrayLike<number>) };
    }
    const good = makeTorchZip(simpleSpec(tensors));
    const valid = rand.chance(0.05);
    const bytes = valid ? good : rand.chance(0.5) ? mutateBytes(good, rand) : mutateBytes(good, rand, [0, Math.min(good.length, 400)]);
    return { label: valid ? 'valid file' : 'bytes mutated', file: BIN, run: () => checkStateDict(parseTorchBin(bytes, BIN)) };
  },
};
