/**
 * Builds torch.save-style files without Python: a pickle protocol-2 writer that emits what CPython's
 * C pickler emits for `torch.save(state_dict)` (same opcodes, memo puts and gets), the ZIP container
 * torch's PyTorchStreamWriter writes (stored entries, data aligned to 64 bytes with an "FB" padding
 * field), and hostile pickles for proving the reader refuses them without running anything.
 */
import * as zlib from 'node:zlib';
import { encodeHalf } from '../../engine/io/safetensors';
import type { DType } from '../../engine/io/types';

// ---------------------------------------------------------------------------------------------------
// Pickle writer

const STORAGE_CLASS: Record<DType, string> = {
  F32: 'FloatStorage',
  F16: 'HalfStorage',
  BF16: 'BFloat16Storage',
  F64: 'DoubleStorage',
  I64: 'LongStorage',
  I32: 'IntStorage',
  I16: 'ShortStorage',
  I8: 'CharStorage',
  U8: 'ByteStorage',
  BOOL: 'BoolStorage',
};

export class PickleWriter {
  private readonly out: number[] = [];
  private memoSize = 0;
  /** Objects CPython would pickle once and then BINGET: globals and interned strings. */
  private readonly shared = new Map<string, number>();

  op(...bytes: number[]): this {
    this.out.push(...bytes);
    return this;
  }
  private u32(n: number): number[] {
    return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
  }
  /** BINPUT / LONG_BINPUT of the object just pushed, as the pickler memoizes it. */
  put(): number {
    const i = this.memoSize++;
    if (i < 256) this.op(0x71, i);
    else this.op(0x72, ...this.u32(i));
    return i;
  }
  get(i: number): this {
    return i < 256 ? this.op(0x68, i) : this.op(0x6a, ...this.u32(i));
  }
  proto(v = 2): this {
    return this.op(0x80, v);
  }
  /** GLOBAL "module\nname\n", memoized: a second use is a BINGET. */
  global(module: string, name: string): this {
    const key = `g:${module}\n${name}`;
    const seen = this.shared.get(key);
    if (seen !== undefined) return this.get(seen);
    this.op(0x63, ...Buffer.from(`${module}\n${name}\n`, 'latin1'));
    this.shared.set(key, this.put());
    return this;
  }
  /** BINUNICODE (protocol 2 has no SHORT_BINUNICODE); `interned` strings are re-used by BINGET. */
  str(s: string, interned = false): this {
    const key = `s:${s}`;
    const seen = interned ? this.shared.get(key) : undefined;
    if (seen !== undefined) return this.get(seen);
    const b = Buffer.from(s, 'utf8');
    this.op(0x58, ...this.u32(b.length), ...b);
    const i = this.put();
    if (interned) this.shared.set(key, i);
    return this;
  }
  /** What save_long emits for protocol 2. */
  int(n: number): this {
    if (n >= 0 && n <= 0xff) return this.op(0x4b, n);
    if (n >= 0 && n <= 0xffff) return this.op(0x4d, n & 0xff, n >> 8);
    if (n >= -(2 ** 31) && n < 2 ** 31) return this.op(0x4a, ...this.u32(n));
    let v = BigInt(n);
    const bytes: number[] = [];
    while (v !== 0n && v !== -1n) {
      bytes.push(Number(v & 0xffn));
      v >>= 8n;
    }
    // a sign byte is needed when the top bit disagrees with the sign
    if ((n >= 0) !== ((bytes[bytes.length - 1]! & 0x80) === 0)) bytes.push(n >= 0 ? 0 : 0xff);
    return this.op(0x8a, bytes.length, ...bytes);
  }
  bool(b: boolean): this {
    return this.op(b ? 0x88 : 0x89);
  }
  none(): this {
    return this.op(0x4e);
  }
  mark(): this {
    return this.op(0x28);
  }
  /** A tuple as save_tuple writes it: EMPTY_TUPLE, TUPLE1-3, or MARK … TUPLE; then memoized. */
  tuple(items: Array<(w: this) => unknown>): this {
    if (items.length === 0) return this.op(0x29);
    if (items.length > 3) this.mark();
    for (const item of items) item(this);
    this.op(items.length > 3 ? 0x74 : 0x84 + items.length);
    this.put();
    return this;
  }
  intTuple(xs: number[]): this {
    return this.tuple(xs.map((x) => (w: this) => w.int(x)));
  }
  /** `OrderedDict()`: GLOBAL, EMPTY_TUPLE, REDUCE, memoized. */
  emptyOrderedDict(): this {
    this.global('collections', 'OrderedDict').op(0x29, 0x52);
    this.put();
    return this;
  }
  /** _batch_setitems: batches of 1000 as MARK … SETITEMS, a lone item as SETITEM. */
  setItems(items: Array<(w: this) => unknown>): this {
    for (let i = 0; i < items.length; i += 1000) {
      const batch = items.slice(i, i + 1000);
      if (batch.length > 1) this.mark();
      for (const item of batch) item(this);
      this.op(batch.length > 1 ? 0x75 : 0x73);
    }
    return this;
  }
  stop(): Uint8Array {
    this.op(0x2e);
    return Uint8Array.from(this.out);
  }
}

// ---------------------------------------------------------------------------------------------------
// torch.save of a state dict

export interface StorageSpec {
  dtype: DType;
  /** Element values (F16/BF16 are rounded from these); or give `bytes` directly. */
  values?: ArrayLike<number> | bigint[];
  bytes?: Uint8Array;
  location?: string;
}

export interface TensorRef {
  storage: string;
  shape: number[];
  /** Defaults to C-contiguous. */
  stride?: number[];
  offset?: number;
  requiresGrad?: boolean;
}

export interface StateDictSpec {
  storages: Record<string, StorageSpec>;
  tensors: Array<[string, TensorRef]>;
  /** torch.save(module.state_dict()) writes an OrderedDict; HF's sharding writes plain dicts. */
  container?: 'OrderedDict' | 'dict';
  /** Add the `_metadata` attribute a module's state_dict() carries (pickled through BUILD). */
  withMetadata?: boolean;
}

export function contiguousStrides(shape: number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    s[d] = acc;
    acc *= shape[d]!;
  }
  return s;
}

export function storageBytes(s: StorageSpec): Uint8Array {
  if (s.bytes) return s.bytes;
  const v = s.values ?? [];
  const nums = () => Array.from(v as ArrayLike<number>, Number);
  let a: ArrayBufferView;
  switch (s.dtype) {
    case 'F32':
      a = Float32Array.from(nums());
      break;
    case 'F64':
      a = Float64Array.from(nums());
      break;
    case 'F16':
    case 'BF16':
      a = encodeHalf(Float32Array.from(nums()), s.dtype);
      break;
    case 'I64':
      a = BigInt64Array.from(Array.from(v as ArrayLike<number | bigint>, (x) => BigInt(x)));
      break;
    case 'I32':
      a = Int32Array.from(nums());
      break;
    case 'I16':
      a = Int16Array.from(nums());
      break;
    case 'I8':
      a = Int8Array.from(nums());
      break;
    case 'U8':
    case 'BOOL':
      a = Uint8Array.from(nums());
      break;
  }
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

function storageNumel(s: StorageSpec): number {
  const size = { F64: 8, I64: 8, F32: 4, I32: 4, F16: 2, BF16: 2, I16: 2, I8: 1, U8: 1, BOOL: 1 }[s.dtype];
  return storageBytes(s).length / size;
}

/** One tensor: `_rebuild_tensor_v2((pid), offset, shape, stride, requires_grad, OrderedDict())` REDUCE. */
export function writeTensor(w: PickleWriter, ref: TensorRef, storage: StorageSpec): void {
  w.global('torch._utils', '_rebuild_tensor_v2');
  w.tuple([
    (w) => {
      // persistent id: ('storage', torch.XStorage, key, location, numel), then BINPERSID
      w.tuple([
        (w) => w.str('storage', true),
        (w) => w.global('torch', STORAGE_CLASS[storage.dtype]),
        (w) => w.str(ref.storage, true),
        (w) => w.str(storage.location ?? 'cpu', true),
        (w) => w.int(storageNumel(storage)),
      ]);
      w.op(0x51);
    },
    (w) => w.int(ref.offset ?? 0),
    (w) => w.intTuple(ref.shape),
    (w) => w.intTuple(ref.stride ?? contiguousStrides(ref.shape)),
    (w) => w.bool(ref.requiresGrad ?? false),
    (w) => w.emptyOrderedDict(),
  ]);
  w.op(0x52);
  w.put();
}

/** The data.pkl torch.save writes for a dict of tensors. */
export function pickleStateDict(spec: StateDictSpec): Uint8Array {
  const w = new PickleWriter().proto(2);
  if ((spec.container ?? 'OrderedDict') === 'OrderedDict') w.emptyOrderedDict();
  else {
    w.op(0x7d);
    w.put();
  }
  w.setItems(
    spec.tensors.map(([name, ref]) => (w: PickleWriter) => {
      w.str(name);
      writeTensor(w, ref, spec.storages[ref.storage]!);
    }),
  );
  if (spec.withMetadata) {
    // state {'_metadata': OrderedDict([('', {'version': 1})])}, then BUILD
    w.op(0x7d);
    w.put();
    w.str('_metadata');
    w.emptyOrderedDict();
    w.str('');
    w.op(0x7d);
    w.put();
    w.str('version');
    w.int(1);
    w.op(0x73); // SETITEM into {'version': 1}
    w.op(0x73); // SETITEM into the OrderedDict
    w.op(0x73); // SETITEM into the state dict
    w.op(0x62); // BUILD
  }
  return w.stop();
}

/** Shorthand: each tensor gets its own contiguous storage, keys "0", "1", … like torch.save. */
export function simpleSpec(tensors: Record<string, { dtype: DType; shape: number[]; values: ArrayLike<number> | bigint[] }>): StateDictSpec {
  const spec: StateDictSpec = { storages: {}, tensors: [] };
  Object.entries(tensors).forEach(([name, t], i) => {
    spec.storages[String(i)] = { dtype: t.dtype, values: t.values };
    spec.tensors.push([name, { storage: String(i), shape: t.shape }]);
  });
  return spec;
}

export interface TorchZipOptions {
  archive?: string;
  zip64?: boolean;
  deflate?: boolean;
  byteorder?: string | null;
}

/** A full pytorch_model.bin: data.pkl, byteorder, data/<key> for each storage, version. */
export function makeTorchZip(spec: StateDictSpec, opts: TorchZipOptions = {}): Uint8Array {
  return torchZipFromPickle(
    pickleStateDict(spec),
    Object.fromEntries(Object.entries(spec.storages).map(([k, s]) => [k, storageBytes(s)])),
    opts,
  );
}

/** Wraps any data.pkl (hostile ones included) in torch's archive layout. */
export function torchZipFromPickle(pkl: Uint8Array, storages: Record<string, Uint8Array> = {}, opts: TorchZipOptions = {}): Uint8Array {
  const a = opts.archive ?? 'archive';
  const files: ZipFileSpec[] = [{ name: `${a}/data.pkl`, data: pkl }];
  if (opts.byteorder !== null) files.push({ name: `${a}/byteorder`, data: Buffer.from(opts.byteorder ?? 'little') });
  for (const key of Object.keys(storages).sort()) files.push({ name: `${a}/data/${key}`, data: storages[key]! });
  files.push({ name: `${a}/version`, data: Buffer.from('3\n') });
  return makeZip(files, { zip64: opts.zip64, deflate: opts.deflate });
}

// ---------------------------------------------------------------------------------------------------
// ZIP writer

export interface ZipFileSpec {
  name: string;
  data: Uint8Array;
}

class Bytes {
  readonly parts: number[] = [];
  u16(n: number) {
    this.parts.push(n & 0xff, (n >>> 8) & 0xff);
  }
  u32(n: number) {
    this.parts.push(n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff);
  }
  u64(n: number) {
    this.u32(n % 2 ** 32);
    this.u32(Math.floor(n / 2 ** 32));
  }
  raw(b: ArrayLike<number>) {
    for (let i = 0; i < b.length; i++) this.parts.push(b[i]!);
  }
  get length() {
    return this.parts.length;
  }
}

/** Stored (or deflated) entries; data aligned to 64 bytes with torch's "FB" extra field of 'Z's. */
export function makeZip(files: ZipFileSpec[], opts: { zip64?: boolean; deflate?: boolean } = {}): Uint8Array {
  const out = new Bytes();
  const central = new Bytes();
  const z64 = !!opts.zip64;
  for (const f of files) {
    const name = Buffer.from(f.name, 'utf8');
    const body = opts.deflate ? zlib.deflateRawSync(f.data) : f.data;
    const crc = zlib.crc32(f.data);
    const offset = out.length;
    const local64 = z64 ? [0x01, 0x00, 16, 0] : [];
    const start = offset + 30 + name.length + local64.length + 4;
    const pad = (64 - (start % 64)) % 64;
    out.u32(0x04034b50);
    out.u16(z64 ? 45 : 20);
    out.u16(0); // flags
    out.u16(opts.deflate ? 8 : 0);
    out.u16(0); // time
    out.u16(0); // date
    out.u32(crc);
    out.u32(z64 ? 0xffffffff : body.length);
    out.u32(z64 ? 0xffffffff : f.data.length);
    out.u16(name.length);
    out.u16(local64.length + (z64 ? 16 : 0) + 4 + pad);
    out.raw(name);
    if (z64) {
      out.raw(local64);
      out.u64(f.data.length);
      out.u64(body.length);
    }
    out.raw([0x46, 0x42]); // "FB"
    out.u16(pad);
    out.raw(new Array(pad).fill(0x5a)); // 'Z'
    out.raw(body);

    central.u32(0x02014b50);
    central.u16(z64 ? 45 : 20); // made by
    central.u16(z64 ? 45 : 20); // needed
    central.u16(0);
    central.u16(opts.deflate ? 8 : 0);
    central.u16(0);
    central.u16(0);
    central.u32(crc);
    central.u32(z64 ? 0xffffffff : body.length);
    central.u32(z64 ? 0xffffffff : f.data.length);
    central.u16(name.length);
    central.u16(z64 ? 28 : 0);
    central.u16(0); // comment
    central.u16(0); // disk
    central.u16(0); // internal attrs
    central.u32(0); // external attrs
    central.u32(z64 ? 0xffffffff : offset);
    central.raw(name);
    if (z64) {
      central.raw([0x01, 0x00, 24, 0]);
      central.u64(f.data.length);
      central.u64(body.length);
      central.u64(offset);
    }
  }
  const cdOffset = out.length;
  out.raw(central.parts);
  if (z64) {
    const rec = out.length;
    out.u32(0x06064b50);
    out.u64(44);
    out.u16(45);
    out.u16(45);
    out.u32(0);
    out.u32(0);
    out.u64(files.length);
    out.u64(files.length);
    out.u64(central.length);
    out.u64(cdOffset);
    out.u32(0x07064b50);
    out.u32(0);
    out.u64(rec);
    out.u32(1);
  }
  out.u32(0x06054b50);
  out.u16(0);
  out.u16(0);
  out.u16(z64 ? 0xffff : files.length);
  out.u16(z64 ? 0xffff : files.length);
  out.u32(z64 ? 0xffffffff : central.length);
  out.u32(z64 ? 0xffffffff : cdOffset);
  out.u16(0);
  return Uint8Array.from(out.parts);
}

// ---------------------------------------------------------------------------------------------------
// Hostile pickles

export type MaliciousKind =
  | 'os.system'
  | 'builtins.eval'
  | '__builtin__.exec'
  | 'posix.system-stack-global'
  | 'reduce-on-string'
  | 'reduce-on-storage-class'
  | 'ordereddict-with-args'
  | 'inst'
  | 'obj'
  | 'newobj'
  | 'persid-not-storage'
  | 'after-valid-tensor'
  | 'load-from-bytes'
  | 'top-level-list'
  | 'non-tensor-value';

/** A data.pkl that would run `command` (or do something else a state dict never does) if executed. */
export function maliciousPickle(kind: MaliciousKind, command: string): Uint8Array {
  const w = new PickleWriter().proto(kind === 'posix.system-stack-global' ? 4 : 2);
  const callWith = (module: string, name: string) => {
    w.global(module, name);
    w.tuple([(w) => w.str(command)]);
    w.op(0x52);
  };
  switch (kind) {
    case 'os.system':
      callWith('os', 'system');
      break;
    case 'builtins.eval':
      callWith('builtins', 'eval');
      break;
    case '__builtin__.exec':
      callWith('__builtin__', 'exec');
      break;
    case 'posix.system-stack-global': {
      // protocol 4 spelling: SHORT_BINUNICODE module, name, STACK_GLOBAL
      for (const s of ['posix', 'system']) w.op(0x8c, s.length, ...Buffer.from(s));
      w.op(0x93);
      w.tuple([(w) => w.str(command)]);
      w.op(0x52);
      break;
    }
    case 'reduce-on-string':
      w.str('os.system');
      w.tuple([(w) => w.str(command)]);
      w.op(0x52);
      break;
    case 'reduce-on-storage-class':
      callWith('torch', 'FloatStorage');
      break;
    case 'ordereddict-with-args':
      callWith('collections', 'OrderedDict');
      break;
    case 'inst':
      // MARK, args, INST "module\nname\n": instantiates module.name(*args) in a real unpickler
      w.mark().str(command).op(0x69, ...Buffer.from('collections\nOrderedDict\n', 'latin1'));
      break;
    case 'obj':
      // MARK, class, args, OBJ; the class is an allowed global, so only the opcode itself can refuse it
      w.mark().global('collections', 'OrderedDict').str(command).op(0x6f);
      break;
    case 'newobj':
      w.global('collections', 'OrderedDict').op(0x29, 0x81);
      break;
    case 'persid-not-storage':
      w.tuple([(w) => w.str('module'), (w) => w.str(command)]);
      w.op(0x51);
      break;
    case 'after-valid-tensor': {
      w.emptyOrderedDict();
      w.setItems([
        (w) => {
          w.str('ok.weight');
          writeTensor(w, { storage: '0', shape: [1] }, { dtype: 'F32', values: [1] });
        },
        (w) => {
          w.str('payload');
          callWith('os', 'system');
        },
      ]);
      break;
    }
    case 'load-from-bytes':
      // legacy storage pickled as bytes, itself unpickled by torch: refused like any other global
      w.global('torch.storage', '_load_from_bytes');
      w.tuple([(w) => w.str(command)]);
      w.op(0x52);
      break;
    case 'top-level-list':
      w.op(0x5d);
      w.put();
      break;
    case 'non-tensor-value':
      w.op(0x7d);
      w.put();
      w.str('epoch').int(3).op(0x73);
      break;
  }
  return w.stop();
}
