/**
 * Strict reader for `pytorch_model.bin` (torch.save's ZIP format): `<archive>/data.pkl` is a pickle of
 * a dict of tensors whose storages live in `<archive>/data/<key>`. The pickle is interpreted under an
 * allow-list and never executed (see torch/pickle.ts), so a malicious checkpoint is refused, not run.
 */
import { PeftStudioError } from '../errors';
import { checkNotLfsPointer, decodeElements, DTYPE_SIZE, readFileOrThrow } from './safetensors';
import { CONVERT_COMMAND, PyDict, PyStorage, PyTensor, refuse, storageFromPid, unpickle } from './torch/pickle';
import { ZipReader } from './torch/zip';
import type { HostTensor, StateDict } from './types';

export { CONVERT_COMMAND };

function bad(file: string, problem: string): PeftStudioError {
  return new PeftStudioError('BAD_WEIGHTS', `${file}: ${problem}`, file);
}

/** Every torch.save since 1.6 writes a ZIP; before that the file was a bare pickle stream. */
function checkContainer(bytes: Uint8Array, file: string): void {
  checkNotLfsPointer(bytes, file);
  const isZip = bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04;
  if (isZip) return;
  if (bytes[0] === 0x80) {
    throw new PeftStudioError(
      'UNSUPPORTED',
      `${file} uses PyTorch's legacy (pre-1.6, non-ZIP) serialization, which PEFT Studio does not read. ` +
        `It was not executed. If you trust the file, convert it to safetensors in the model folder:\n  ${CONVERT_COMMAND}`,
      file,
    );
  }
  throw bad(file, `not a PyTorch checkpoint (neither a ZIP archive nor a pickle; ${bytes.length} bytes).`);
}

/** The archive's folder name varies (`archive`, the file's stem, …): find it from its one data.pkl. */
function archivePrefix(zip: ZipReader, file: string): string {
  const pkls = [...zip.entries.keys()].filter((n) => n === 'data.pkl' || n.endsWith('/data.pkl'));
  if (pkls.length === 1) return pkls[0]!.slice(0, -'data.pkl'.length);
  if (pkls.length === 0 && [...zip.entries.keys()].some((n) => n.endsWith('constants.pkl'))) {
    throw refuse(file, 'a TorchScript module');
  }
  throw bad(file, pkls.length ? `the archive has ${pkls.length} data.pkl records; expected one.` : 'the archive has no data.pkl record; it is not a torch.save file.');
}

function isContiguous(shape: number[], stride: number[]): boolean {
  let expected = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    if (shape[d] !== 1 && stride[d] !== expected) return false;
    expected *= shape[d]!;
  }
  return true;
}

/** Copies a strided view's elements into C order, element by element (views are rare and small). */
function gather(bytes: Uint8Array, t: PyTensor, numel: number, size: number): Uint8Array {
  const { shape, stride } = t;
  const out = new Uint8Array(numel * size);
  const idx = new Array<number>(shape.length).fill(0);
  let src = t.offset;
  for (let i = 0; i < numel; i++) {
    for (let b = 0; b < size; b++) out[i * size + b] = bytes[src * size + b]!;
    for (let d = shape.length - 1; d >= 0; d--) {
      idx[d]!++;
      src += stride[d]!;
      if (idx[d]! < shape[d]!) break;
      src -= stride[d]! * shape[d]!;
      idx[d] = 0;
    }
  }
  return out;
}

function materialize(name: string, t: PyTensor, storageBytes: Uint8Array, file: string): HostTensor {
  const { dtype } = t.storage;
  const size = DTYPE_SIZE[dtype];
  const numel = t.shape.reduce((a, b) => a * b, 1);
  const where = { file, name };
  if (numel === 0) return { dtype, shape: t.shape, data: decodeElements(storageBytes, 0, 0, dtype, where) };
  // The last element the view touches must lie inside its storage.
  const last = t.offset + t.shape.reduce((acc, d, i) => acc + (d - 1) * t.stride[i]!, 0);
  if (last >= t.storage.numel) {
    throw bad(file, `tensor "${name}" (shape [${t.shape}], stride [${t.stride}], offset ${t.offset}) reaches element ${last} of a storage of ${t.storage.numel}.`);
  }
  const data = isContiguous(t.shape, t.stride)
    ? decodeElements(storageBytes, t.offset * size, numel, dtype, where)
    : decodeElements(gather(storageBytes, t, numel, size), 0, numel, dtype, where);
  return { dtype, shape: t.shape, data };
}

export function parseTorchBin(bytes: Uint8Array, file: string): StateDict {
  checkContainer(bytes, file);
  const zip = new ZipReader(bytes, file);
  const prefix = archivePrefix(zip, file);
  if (zip.has(`${prefix}byteorder`)) {
    const order = Buffer.from(zip.read(`${prefix}byteorder`)).toString('latin1').trim();
    if (order !== 'little') throw new PeftStudioError('UNSUPPORTED', `${file} was saved with byte order "${order}"; only little-endian checkpoints are supported.`, file);
  }

  // One storage may back several tensors (tied weights): read each once and check it is typed consistently.
  const storages = new Map<string, { storage: PyStorage; bytes?: Uint8Array }>();
  const root = unpickle(zip.read(`${prefix}data.pkl`), file, (pid) => {
    const s = storageFromPid(pid, file);
    const seen = storages.get(s.key);
    if (seen && (seen.storage.dtype !== s.dtype || seen.storage.numel !== s.numel)) {
      throw bad(file, `storage "${s.key}" is referenced as both ${seen.storage.dtype}[${seen.storage.numel}] and ${s.dtype}[${s.numel}].`);
    }
    if (!seen) storages.set(s.key, { storage: s });
    return s;
  });
  if (!(root instanceof PyDict)) throw refuse(file, 'a top-level object that is not a dict of tensors');

  const storageBytes = (s: PyStorage): Uint8Array => {
    const slot = storages.get(s.key)!;
    if (!slot.bytes) {
      const entry = `${prefix}data/${s.key}`;
      if (!zip.has(entry)) throw bad(file, `tensor storage "${s.key}" is referenced but the archive has no ${entry}.`);
      const b = zip.read(entry);
      const expected = s.numel * DTYPE_SIZE[s.dtype];
      if (b.length !== expected) throw bad(file, `storage "${s.key}" should hold ${s.numel} ${s.dtype} (${expected} bytes) but has ${b.length} bytes.`);
      slot.bytes = b;
    }
    return slot.bytes;
  };

  const out: StateDict = new Map();
  for (const [key, value] of root.map) {
    if (typeof key !== 'string') throw refuse(file, `a non-string key ${JSON.stringify(key)} at the top level`);
    if (!(value instanceof PyTensor)) throw refuse(file, `an entry "${key}" that is not a tensor`);
    out.set(key, materialize(key, value, storageBytes(value.storage), file));
  }
  return out;
}

export function readTorchBin(file: string): StateDict {
  return parseTorchBin(readFileOrThrow(file), file);
}
