/**
 * A pickle *reader* that never executes anything: it understands only the opcodes and globals a PyTorch
 * state dict uses (the allow-list idea of `torch.load(weights_only=True)`) and builds plain data from them.
 * Callables are never looked up: `REDUCE` on an allowed global is interpreted here by name, and any
 * other global, callable or opcode stops the read with an explanation and a conversion command.
 */
import { PeftStudioError } from '../../errors';
import type { DType } from '../types';

export const CONVERT_COMMAND =
  `python -c "import torch; from safetensors.torch import save_file; sd = torch.load('pytorch_model.bin', weights_only=True); ` +
  `save_file({k: v.contiguous() for k, v in sd.items()}, 'model.safetensors')"`;

/** The refusal every "this is more than a state dict" case shares. */
export function refuse(file: string, what: string): PeftStudioError {
  return new PeftStudioError(
    'UNSUPPORTED',
    `${file} contains ${what}, which is not part of a plain PyTorch state dict (tensors by name). ` +
      `Nothing in it was executed: PEFT Studio reads .bin files with a strict reader that only accepts tensors. ` +
      `If you trust the file, convert it to safetensors in the model folder:\n  ${CONVERT_COMMAND}`,
    file,
  );
}

export class PyTuple {
  constructor(readonly items: PyValue[]) {}
}
export class PyList {
  constructor(readonly items: PyValue[]) {}
}
export class PyDict {
  readonly map = new Map<string | number | boolean | null, PyValue>();
  constructor(readonly ordered: boolean) {}
}
/** A reference to an allowed global; only ever interpreted by name, never resolved to code. */
export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
  get qualified(): string {
    return `${this.module}.${this.name}`;
  }
}
export class PyStorage {
  constructor(
    readonly dtype: DType,
    readonly key: string,
    readonly location: string,
    readonly numel: number,
  ) {}
}
export class PyTensor {
  constructor(
    readonly storage: PyStorage,
    readonly offset: number,
    readonly shape: number[],
    readonly stride: number[],
  ) {}
}
export type PyValue = null | boolean | number | string | PyTuple | PyList | PyDict | PyGlobal | PyStorage | PyTensor;

/** torch's legacy storage class names → the element type of their bytes. */
export const STORAGE_DTYPES: Record<string, DType> = {
  FloatStorage: 'F32',
  HalfStorage: 'F16',
  BFloat16Storage: 'BF16',
  DoubleStorage: 'F64',
  LongStorage: 'I64',
  IntStorage: 'I32',
  ShortStorage: 'I16',
  CharStorage: 'I8',
  ByteStorage: 'U8',
  BoolStorage: 'BOOL',
};

const CALLABLES = new Set(['collections.OrderedDict', 'torch._utils._rebuild_tensor_v2', 'torch._utils._rebuild_parameter']);

function isAllowedGlobal(module: string, name: string): boolean {
  return CALLABLES.has(`${module}.${name}`) || (module === 'torch' && name in STORAGE_DTYPES);
}

/** Names for the opcodes we refuse, so the message says what was found. */
const REFUSED_OPCODES: Record<number, string> = {
  0x69: 'INST',
  0x6f: 'OBJ',
  0x81: 'NEWOBJ',
  0x92: 'NEWOBJ_EX',
  0x82: 'EXT1',
  0x83: 'EXT2',
  0x84: 'EXT4',
  0x50: 'PERSID',
  0x49: 'INT',
  0x4c: 'LONG',
  0x8b: 'LONG4',
  0x46: 'FLOAT',
  0x53: 'STRING',
  0x54: 'BINSTRING',
  0x55: 'SHORT_BINSTRING',
  0x56: 'UNICODE',
  0x42: 'BINBYTES',
  0x43: 'SHORT_BINBYTES',
  0x8e: 'BINBYTES8',
  0x96: 'BYTEARRAY8',
  0x64: 'DICT',
  0x6c: 'LIST',
  0x30: 'POP',
  0x31: 'POP_MARK',
  0x32: 'DUP',
  0x67: 'GET',
  0x70: 'PUT',
  0x8f: 'EMPTY_SET',
  0x90: 'ADDITEMS',
  0x91: 'FROZENSET',
  0x97: 'NEXT_BUFFER',
  0x98: 'READONLY_BUFFER',
};

export type PersistentLoad = (pid: PyValue) => PyValue;

function isInt(v: PyValue): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v);
}

function intTuple(v: PyValue): number[] | undefined {
  if (!(v instanceof PyTuple) || !v.items.every((x) => isInt(x) && x >= 0)) return undefined;
  return v.items as number[];
}

/** ('storage', torch.XStorage, key, location, numel) → PyStorage; anything else is refused. */
export function storageFromPid(pid: PyValue, file: string): PyStorage {
  const items = pid instanceof PyTuple ? pid.items : [];
  const [tag, type, key, location, numel] = items;
  if (items.length !== 5 || tag !== 'storage' || !(type instanceof PyGlobal) || type.module !== 'torch' || !(type.name in STORAGE_DTYPES)) {
    throw refuse(file, `a persistent reference that is not a tensor storage (${describe(pid)})`);
  }
  if (typeof key !== 'string' || typeof location !== 'string' || !isInt(numel) || numel < 0) {
    throw new PeftStudioError('BAD_WEIGHTS', `${file}: malformed storage reference ${describe(pid)}.`, file);
  }
  return new PyStorage(STORAGE_DTYPES[type.name]!, key, location, numel);
}

function describe(v: PyValue): string {
  if (v instanceof PyGlobal) return v.qualified;
  if (v instanceof PyTuple) return `(${v.items.map(describe).join(', ')})`;
  if (v instanceof PyList) return `a list`;
  if (v instanceof PyDict) return `a dict`;
  if (v instanceof PyStorage) return `a ${v.dtype} storage`;
  if (v instanceof PyTensor) return `a tensor`;
  return JSON.stringify(v);
}

class Unpickler {
  private pos = 0;
  private readonly stack: PyValue[] = [];
  private readonly marks: number[] = [];
  private readonly memo = new Map<number, PyValue>();
  private readonly view: DataView;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly file: string,
    private readonly persistentLoad: PersistentLoad,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  private bad(problem: string): PeftStudioError {
    return new PeftStudioError('BAD_WEIGHTS', `${this.file}: data.pkl is malformed: ${problem} (at byte ${this.pos}).`, this.file);
  }

  private take(n: number): number {
    if (n < 0 || this.pos + n > this.bytes.length) throw this.bad('unexpected end of pickle data');
    const at = this.pos;
    this.pos += n;
    return at;
  }
  private u8 = () => this.bytes[this.take(1)]!;
  private u16 = () => this.view.getUint16(this.take(2), true);
  private u32 = () => this.view.getUint32(this.take(4), true);
  private u64(): number {
    const v = this.view.getBigUint64(this.take(8), true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw this.bad('length out of range');
    return Number(v);
  }
  private str(n: number): string {
    const at = this.take(n);
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(this.bytes.subarray(at, at + n));
    } catch {
      throw this.bad('string is not valid UTF-8');
    }
  }
  private line(): string {
    const end = this.bytes.indexOf(0x0a, this.pos);
    if (end < 0) throw this.bad('unterminated GLOBAL name');
    return Buffer.from(this.bytes.subarray(this.take(end - this.pos + 1), end)).toString('latin1');
  }

  private floor(): number {
    return this.marks.length ? this.marks[this.marks.length - 1]! : 0;
  }
  private pop(): PyValue {
    if (this.stack.length <= this.floor()) throw this.bad('stack underflow');
    return this.stack.pop()!;
  }
  private top(): PyValue {
    if (this.stack.length <= this.floor()) throw this.bad('stack underflow');
    return this.stack[this.stack.length - 1]!;
  }
  private popMark(): PyValue[] {
    const m = this.marks.pop();
    if (m === undefined) throw this.bad('no MARK to pop to');
    return this.stack.splice(m);
  }

  private global(module: string, name: string): PyGlobal {
    if (!isAllowedGlobal(module, name)) throw refuse(this.file, `a reference to the Python object \`${module}.${name}\``);
    return new PyGlobal(module, name);
  }

  private dictOnTop(op: string): PyDict {
    const d = this.top();
    if (!(d instanceof PyDict)) throw refuse(this.file, `${op} on ${describe(d)} instead of a dict`);
    return d;
  }

  private setItem(d: PyDict, k: PyValue, v: PyValue): void {
    if (typeof k === 'object' && k !== null) throw refuse(this.file, `a dict key that is ${describe(k)}`);
    d.map.set(k, v);
  }

  /** REDUCE, interpreted by the callable's name: nothing is ever called. */
  private reduce(fn: PyValue, args: PyValue): PyValue {
    if (!(fn instanceof PyGlobal) || !(args instanceof PyTuple)) throw refuse(this.file, `a call of ${describe(fn)}`);
    const a = args.items;
    switch (fn.qualified) {
      case 'collections.OrderedDict':
        if (a.length !== 0) throw refuse(this.file, `a call of collections.OrderedDict with arguments ${describe(args)}`);
        return new PyDict(true);
      case 'torch._utils._rebuild_tensor_v2': {
        // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
        const [storage, offset, size, stride, requiresGrad, hooks, metadata] = a;
        const shape = intTuple(size ?? null);
        const strides = intTuple(stride ?? null);
        if (
          (a.length !== 6 && a.length !== 7) ||
          !(storage instanceof PyStorage) ||
          !isInt(offset ?? null) ||
          (offset as number) < 0 ||
          !shape ||
          !strides ||
          shape.length !== strides.length ||
          typeof requiresGrad !== 'boolean'
        ) {
          throw this.bad(`unexpected arguments to _rebuild_tensor_v2 ${describe(args)}`);
        }
        if (!(hooks instanceof PyDict) || hooks.map.size > 0) throw refuse(this.file, 'a tensor with backward hooks');
        if (metadata !== undefined && metadata !== null && !(metadata instanceof PyDict && metadata.map.size === 0)) {
          throw refuse(this.file, 'a tensor with Python metadata');
        }
        return new PyTensor(storage, offset as number, shape, strides);
      }
      case 'torch._utils._rebuild_parameter': {
        // (data, requires_grad, backward_hooks): a Parameter is just its tensor for us
        const [data, requiresGrad, hooks] = a;
        if (a.length !== 3 || !(data instanceof PyTensor) || typeof requiresGrad !== 'boolean') {
          throw this.bad(`unexpected arguments to _rebuild_parameter ${describe(args)}`);
        }
        if (!(hooks instanceof PyDict) || hooks.map.size > 0) throw refuse(this.file, 'a parameter with backward hooks');
        return data;
      }
      default:
        throw refuse(this.file, `a call of ${fn.qualified}`);
    }
  }

  /** BUILD is only how an OrderedDict gets its `_metadata` attribute (module versions); we drop it. */
  private build(state: PyValue, obj: PyValue): void {
    if (!(obj instanceof PyDict) || !obj.ordered) throw refuse(this.file, `object state set on ${describe(obj)}`);
    if (state === null) return;
    if (!(state instanceof PyDict) || ![...state.map.keys()].every((k) => k === '_metadata')) {
      throw refuse(this.file, `attributes other than _metadata on an OrderedDict`);
    }
  }

  run(): PyValue {
    for (;;) {
      const at = this.pos;
      const op = this.u8();
      switch (op) {
        case 0x80: // PROTO
          if (this.u8() > 5) throw this.bad('unknown pickle protocol');
          break;
        case 0x95: // FRAME: only a size hint
          this.u64();
          break;
        case 0x7d: // EMPTY_DICT
          this.stack.push(new PyDict(false));
          break;
        case 0x5d: // EMPTY_LIST
          this.stack.push(new PyList([]));
          break;
        case 0x29: // EMPTY_TUPLE
          this.stack.push(new PyTuple([]));
          break;
        case 0x28: // MARK
          this.marks.push(this.stack.length);
          break;
        case 0x58: // BINUNICODE
          this.stack.push(this.str(this.u32()));
          break;
        case 0x8c: // SHORT_BINUNICODE
          this.stack.push(this.str(this.u8()));
          break;
        case 0x8d: // BINUNICODE8
          this.stack.push(this.str(this.u64()));
          break;
        case 0x4a: // BININT
          this.stack.push(this.view.getInt32(this.take(4), true));
          break;
        case 0x4b: // BININT1
          this.stack.push(this.u8());
          break;
        case 0x4d: // BININT2
          this.stack.push(this.u16());
          break;
        case 0x8a: {
          // LONG1: little-endian two's complement of n bytes
          const n = this.u8();
          const start = this.take(n);
          let v = 0n;
          for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(this.bytes[start + i]!);
          if (n > 0 && this.bytes[start + n - 1]! & 0x80) v -= 1n << BigInt(8 * n);
          if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) throw this.bad(`integer ${v} out of range`);
          this.stack.push(Number(v));
          break;
        }
        case 0x47: // BINFLOAT: big-endian double
          this.stack.push(this.view.getFloat64(this.take(8), false));
          break;
        case 0x88: // NEWTRUE
          this.stack.push(true);
          break;
        case 0x89: // NEWFALSE
          this.stack.push(false);
          break;
        case 0x4e: // NONE
          this.stack.push(null);
          break;
        case 0x74: // TUPLE
          this.stack.push(new PyTuple(this.popMark()));
          break;
        case 0x85: // TUPLE1
        case 0x86: // TUPLE2
        case 0x87: {
          // TUPLE3
          const items: PyValue[] = [];
          for (let i = op - 0x84; i > 0; i--) items.unshift(this.pop());
          this.stack.push(new PyTuple(items));
          break;
        }
        case 0x71: // BINPUT
          this.memo.set(this.u8(), this.top());
          break;
        case 0x72: // LONG_BINPUT
          this.memo.set(this.u32(), this.top());
          break;
        case 0x94: // MEMOIZE
          this.memo.set(this.memo.size, this.top());
          break;
        case 0x68: // BINGET
        case 0x6a: {
          // LONG_BINGET
          const i = op === 0x68 ? this.u8() : this.u32();
          if (!this.memo.has(i)) throw this.bad(`memo key ${i} not found`);
          this.stack.push(this.memo.get(i)!);
          break;
        }
        case 0x73: {
          // SETITEM
          const v = this.pop();
          const k = this.pop();
          this.setItem(this.dictOnTop('SETITEM'), k, v);
          break;
        }
        case 0x75: {
          // SETITEMS
          const items = this.popMark();
          if (items.length % 2) throw this.bad('SETITEMS with an odd number of items');
          const d = this.dictOnTop('SETITEMS');
          for (let i = 0; i < items.length; i += 2) this.setItem(d, items[i]!, items[i + 1]!);
          break;
        }
        case 0x61: // APPEND
        case 0x65: {
          // APPENDS
          const items = op === 0x61 ? [this.pop()] : this.popMark();
          const l = this.top();
          if (!(l instanceof PyList)) throw refuse(this.file, `APPEND on ${describe(l)} instead of a list`);
          l.items.push(...items);
          break;
        }
        case 0x51: // BINPERSID
          this.stack.push(this.persistentLoad(this.pop()));
          break;
        case 0x63: {
          // GLOBAL "module\nname\n"
          const module = this.line();
          this.stack.push(this.global(module, this.line()));
          break;
        }
        case 0x93: {
          // STACK_GLOBAL
          const name = this.pop();
          const module = this.pop();
          if (typeof module !== 'string' || typeof name !== 'string') throw this.bad('STACK_GLOBAL needs two strings');
          this.stack.push(this.global(module, name));
          break;
        }
        case 0x52: {
          // REDUCE
          const args = this.pop();
          const fn = this.pop();
          this.stack.push(this.reduce(fn, args));
          break;
        }
        case 0x62: {
          // BUILD
          const state = this.pop();
          this.build(state, this.top());
          break;
        }
        case 0x2e: // STOP
          if (this.marks.length) throw this.bad('STOP inside an open MARK');
          return this.pop();
        default: {
          this.pos = at;
          const name = REFUSED_OPCODES[op];
          if (name === 'INST' || name === 'OBJ') {
            throw refuse(this.file, `the pickle opcode ${name}, which instantiates arbitrary Python classes`);
          }
          if (name) throw refuse(this.file, `the pickle opcode ${name} (0x${op.toString(16)}) at byte ${at}`);
          throw this.bad(`unknown pickle opcode 0x${op.toString(16)}`);
        }
      }
    }
  }
}

/** Interprets a pickle under the allow-list; `persistentLoad` resolves BINPERSID references. */
export function unpickle(bytes: Uint8Array, file: string, persistentLoad: PersistentLoad): PyValue {
  return new Unpickler(bytes, file, persistentLoad).run();
}
