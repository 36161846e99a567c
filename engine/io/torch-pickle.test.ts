import { test } from 'node:test';
import { expectError as expectAnyError } from '../../test/helpers/expect-error';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { PeftStudioError, type ErrorCode } from '../errors';
import { CONVERT_COMMAND, parseTorchBin, readTorchBin } from './torch-pickle';
import {
  makeTorchZip,
  makeZip,
  maliciousPickle,
  PickleWriter,
  pickleStateDict,
  simpleSpec,
  torchZipFromPickle,
  type MaliciousKind,
  type StateDictSpec,
} from '../../test/helpers/make-torch-zip';

const FILE = '/models/x/pytorch_model.bin';
/** Every weights error must name the file at fault. */
const expectError = (fn: () => unknown, code: ErrorCode, ...patterns: RegExp[]) => expectAnyError(fn, code, FILE, ...patterns);

const spec = simpleSpec({
  'bert.embeddings.word_embeddings.weight': { dtype: 'F32', shape: [3, 2], values: [0.1, -0.2, 0.3, 1e-40, Infinity, -7] },
  'bert.encoder.layer.0.output.dense.bias': { dtype: 'F16', shape: [4], values: [1, -2, 0.5, 65504] },
  'bert.embeddings.position_ids': { dtype: 'I64', shape: [1, 4], values: [0n, 1n, 2n, 3n] },
  'classifier.bias': { dtype: 'BF16', shape: [2], values: [1, -0.375] },
  'mask': { dtype: 'BOOL', shape: [3], values: [1, 0, 1] },
  'scalar': { dtype: 'F64', shape: [], values: [0.1] },
});

function checkSimple(sd: Map<string, { dtype: string; shape: number[]; data: Float32Array | Int32Array }>): void {
  assert.deepEqual([...sd.keys()], spec.tensors.map(([n]) => n));
  const w = sd.get('bert.embeddings.word_embeddings.weight')!;
  assert.equal(w.dtype, 'F32');
  assert.deepEqual(w.shape, [3, 2]);
  assert.deepEqual(w.data, Float32Array.of(0.1, -0.2, 0.3, 1e-40, Infinity, -7));
  const h = sd.get('bert.encoder.layer.0.output.dense.bias')!;
  assert.equal(h.dtype, 'F16');
  assert.deepEqual([...h.data], [1, -2, 0.5, 65504]);
  const ids = sd.get('bert.embeddings.position_ids')!;
  assert.equal(ids.dtype, 'I64');
  assert.ok(ids.data instanceof Int32Array);
  assert.deepEqual([...ids.data], [0, 1, 2, 3]);
  assert.deepEqual([...sd.get('classifier.bias')!.data], [1, -0.375]);
  assert.deepEqual([...sd.get('mask')!.data], [1, 0, 1]);
  assert.equal(sd.get('mask')!.dtype, 'BOOL');
  assert.deepEqual(sd.get('scalar')!.shape, []);
  assert.deepEqual([...sd.get('scalar')!.data], [Math.fround(0.1)]);
}

test('helper emits the opcodes CPython emits for torch.save of one tensor', () => {
  const pkl = pickleStateDict(simpleSpec({ b: { dtype: 'F32', shape: [2], values: [1, 2] } }));
  const expected = Buffer.concat([
    Buffer.from('\x80\x02ccollections\nOrderedDict\nq\x00)Rq\x01', 'latin1'),
    Buffer.from('X\x01\x00\x00\x00bq\x02ctorch._utils\n_rebuild_tensor_v2\nq\x03((X\x07\x00\x00\x00storageq\x04', 'latin1'),
    Buffer.from('ctorch\nFloatStorage\nq\x05X\x01\x00\x00\x000q\x06X\x03\x00\x00\x00cpuq\x07K\x02tq\x08Q', 'latin1'),
    Buffer.from('K\x00K\x02\x85q\tK\x01\x85q\n\x89h\x00)Rq\x0btq\x0cRq\r', 'latin1'),
    Buffer.from('s.', 'latin1'),
  ]);
  assert.equal(Buffer.from(pkl).toString('latin1'), expected.toString('latin1'));
});

test('round trip: OrderedDict of F32/F16/I64/BF16/BOOL/F64 tensors', () => {
  checkSimple(parseTorchBin(makeTorchZip(spec), FILE));
});

test('round trip: plain dict (HF shards), _metadata BUILD, other archive names, deflate, ZIP64', () => {
  checkSimple(parseTorchBin(makeTorchZip({ ...spec, container: 'dict' }), FILE));
  checkSimple(parseTorchBin(makeTorchZip({ ...spec, withMetadata: true }), FILE));
  checkSimple(parseTorchBin(makeTorchZip(spec, { archive: 'pytorch_model' }), FILE));
  checkSimple(parseTorchBin(makeTorchZip(spec, { deflate: true }), FILE));
  checkSimple(parseTorchBin(makeTorchZip(spec, { zip64: true }), FILE));
  checkSimple(parseTorchBin(makeTorchZip(spec, { byteorder: null }), FILE));
});

test('storage data is 64-byte aligned in the archive, as torch writes it', () => {
  const bytes = makeTorchZip(spec);
  const w = Buffer.from(Float32Array.of(0.1, -0.2, 0.3, 1e-40, Infinity, -7).buffer);
  const at = Buffer.from(bytes).indexOf(w);
  assert.ok(at > 0);
  assert.equal(at % 64, 0);
});

test('many tensors: LONG_BINPUT memo indices, SETITEMS batches of 1000, shared globals by BINGET', () => {
  const many: Parameters<typeof simpleSpec>[0] = {};
  for (let i = 0; i < 1100; i++) many[`layer.${i}.bias`] = { dtype: 'F32', shape: [1], values: [i] };
  const sd = parseTorchBin(makeTorchZip(simpleSpec(many)), FILE);
  assert.equal(sd.size, 1100);
  assert.deepEqual([...sd.get('layer.1099.bias')!.data], [1099]);
  assert.deepEqual([...sd.get('layer.7.bias')!.data], [7]);
});

test('storage offset, shared storage and a transposed (non-contiguous) view', () => {
  const s: StateDictSpec = {
    storages: { '0': { dtype: 'F32', values: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] } },
    tensors: [
      // the whole storage as 2×5
      ['full', { storage: '0', shape: [2, 5] }],
      // a slice starting at element 4 (tied/split weights share one storage)
      ['tail', { storage: '0', shape: [3], offset: 4 }],
      // the transpose of a 2×3 block at offset 1: element [i][j] = storage[1 + i + 3j]
      ['t', { storage: '0', shape: [3, 2], stride: [1, 3], offset: 1 }],
      // an expanded view: stride 0
      ['expanded', { storage: '0', shape: [2, 2], stride: [0, 1], offset: 8 }],
    ],
  };
  const sd = parseTorchBin(makeTorchZip(s), FILE);
  assert.deepEqual([...sd.get('full')!.data], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.deepEqual([...sd.get('tail')!.data], [4, 5, 6]);
  assert.deepEqual(sd.get('t')!.shape, [3, 2]);
  assert.deepEqual([...sd.get('t')!.data], [1, 4, 2, 5, 3, 6]);
  assert.deepEqual([...sd.get('expanded')!.data], [8, 9, 8, 9]);
});

test('non-contiguous I64 and F16 views gather whole elements', () => {
  const s: StateDictSpec = {
    storages: {
      '0': { dtype: 'I64', values: [10n, 11n, 12n, 13n, 14n, 15n] },
      '1': { dtype: 'F16', values: [1, 2, 3, 4, 5, 6] },
    },
    tensors: [
      ['ids', { storage: '0', shape: [3, 2], stride: [1, 3] }],
      ['h', { storage: '1', shape: [2, 3], stride: [1, 2] }],
    ],
  };
  const sd = parseTorchBin(makeTorchZip(s), FILE);
  assert.deepEqual([...sd.get('ids')!.data], [10, 13, 11, 14, 12, 15]);
  assert.deepEqual([...sd.get('h')!.data], [1, 3, 5, 2, 4, 6]);
});

test('views reaching past their storage are refused', () => {
  const s: StateDictSpec = {
    storages: { '0': { dtype: 'F32', values: [0, 1, 2, 3] } },
    tensors: [['w', { storage: '0', shape: [2, 2], offset: 1 }]],
  };
  expectError(() => parseTorchBin(makeTorchZip(s), FILE), 'BAD_WEIGHTS', /tensor "w" .* reaches element 4 of a storage of 4/);
});

test('a storage whose bytes disagree with its numel, or is missing, is refused', () => {
  const pkl = pickleStateDict(simpleSpec({ w: { dtype: 'F32', shape: [2], values: [1, 2] } }));
  expectError(() => parseTorchBin(torchZipFromPickle(pkl, { '0': new Uint8Array(4) }), FILE), 'BAD_WEIGHTS', /storage "0" should hold 2 F32 \(8 bytes\) but has 4 bytes/);
  expectError(() => parseTorchBin(torchZipFromPickle(pkl, {}), FILE), 'BAD_WEIGHTS', /storage "0" is referenced but the archive has no archive\/data\/0/);
});

test('corrupt archives: CRC mismatch, truncation, not a ZIP', () => {
  const good = makeTorchZip(spec);
  const flipped = good.slice();
  const at = Buffer.from(good).indexOf(Buffer.from(Float32Array.of(0.1).buffer));
  flipped[at] ^= 1;
  expectError(() => parseTorchBin(flipped, FILE), 'BAD_WEIGHTS', /"archive\/data\/0" fails its CRC check/);
  expectError(() => parseTorchBin(good.slice(0, good.length - 30), FILE), 'BAD_WEIGHTS', /end-of-central-directory/);
  expectError(() => parseTorchBin(Buffer.from('hello world, not a checkpoint'), FILE), 'BAD_WEIGHTS', /not a PyTorch checkpoint/);
  expectError(() => parseTorchBin(makeZip([{ name: 'x/other.txt', data: Buffer.from('x') }]), FILE), 'BAD_WEIGHTS', /no data.pkl/);
});

test('big-endian checkpoints are refused clearly', () => {
  expectError(() => parseTorchBin(makeTorchZip(spec, { byteorder: 'big' }), FILE), 'UNSUPPORTED', /byte order "big"/);
});

test('legacy (non-ZIP) torch format is refused with the conversion command', () => {
  // what torch.save(..., _use_new_zipfile_serialization=False) starts with: the magic number as a LONG1
  const legacy = Buffer.from('\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19.\x80\x02M\xe9\x03.', 'latin1');
  const e = expectError(() => parseTorchBin(legacy, FILE), 'UNSUPPORTED', /legacy \(pre-1.6, non-ZIP\) serialization/, /not executed/);
  assert.ok(e.message.includes(CONVERT_COMMAND));
});

test('the conversion command is the weights_only one', () => {
  assert.match(CONVERT_COMMAND, /torch\.load\('pytorch_model\.bin', weights_only=True\)/);
  assert.match(CONVERT_COMMAND, /save_file\(\{k: v\.contiguous\(\) for k, v in sd\.items\(\)\}, 'model\.safetensors'\)/);
});

const HOSTILE: Array<[MaliciousKind, RegExp]> = [
  ['os.system', /`os\.system`/],
  ['builtins.eval', /`builtins\.eval`/],
  ['__builtin__.exec', /`__builtin__\.exec`/],
  ['posix.system-stack-global', /`posix\.system`/],
  ['reduce-on-string', /a call of "os\.system"/],
  ['reduce-on-storage-class', /a call of torch\.FloatStorage/],
  ['ordereddict-with-args', /collections\.OrderedDict with arguments/],
  ['inst', /opcode INST/],
  ['obj', /opcode OBJ/],
  ['newobj', /opcode NEWOBJ/],
  ['persid-not-storage', /persistent reference that is not a tensor storage/],
  ['after-valid-tensor', /`os\.system`/],
  ['load-from-bytes', /`torch\.storage\._load_from_bytes`/],
  ['top-level-list', /top-level object that is not a dict of tensors/],
  ['non-tensor-value', /entry "epoch" that is not a tensor/],
];

for (const [kind, why] of HOSTILE) {
  test(`hostile pickle refused without running: ${kind}`, () => {
    const marker = path.join(os.tmpdir(), `pwned-${randomBytes(8).toString('hex')}`);
    const bytes = torchZipFromPickle(maliciousPickle(kind, `touch ${marker}`), { '0': new Uint8Array(4) });
    const e = expectError(() => parseTorchBin(bytes, FILE), 'UNSUPPORTED', why, /not part of a plain PyTorch state dict/, /Nothing in it was executed/);
    assert.ok(e.message.includes(CONVERT_COMMAND), 'message should carry the conversion command');
    assert.equal(fs.existsSync(marker), false, 'the payload must not have run');
  });
}

test('malformed pickles are BAD_WEIGHTS, not crashes', () => {
  const wrap = (b: number[]) => torchZipFromPickle(Uint8Array.from(b));
  expectError(() => parseTorchBin(wrap([0x80, 0x02, 0x73, 0x2e]), FILE), 'BAD_WEIGHTS', /stack underflow/);
  expectError(() => parseTorchBin(wrap([0x80, 0x02, 0x7d]), FILE), 'BAD_WEIGHTS', /unexpected end of pickle data/);
  expectError(() => parseTorchBin(wrap([0x80, 0x02, 0x68, 0x05, 0x2e]), FILE), 'BAD_WEIGHTS', /memo key 5 not found/);
  expectError(() => parseTorchBin(wrap([0x80, 0x02, 0xff, 0x2e]), FILE), 'BAD_WEIGHTS', /unknown pickle opcode 0xff/);
  expectError(() => parseTorchBin(wrap([0x80, 0x02, 0x58, 0xff, 0xff, 0xff, 0x7f, 0x2e]), FILE), 'BAD_WEIGHTS', /unexpected end/);
  // a MARK left open: popping below it is an underflow, not a read of older items
  expectError(() => parseTorchBin(wrap([0x80, 0x02, 0x7d, 0x28, 0x4b, 0x01, 0x73, 0x2e]), FILE), 'BAD_WEIGHTS', /stack underflow/);
});

test('a tensor with backward hooks or requires-grad Parameter wrappers', () => {
  // _rebuild_parameter(tensor, True, OrderedDict()) is accepted and unwrapped
  const w = new PickleWriter().proto(2);
  w.op(0x7d);
  w.put();
  w.str('p');
  w.global('torch._utils', '_rebuild_parameter');
  w.tuple([
    (w) => {
      w.global('torch._utils', '_rebuild_tensor_v2');
      w.tuple([
        (w) => {
          w.tuple([(w) => w.str('storage'), (w) => w.global('torch', 'FloatStorage'), (w) => w.str('0'), (w) => w.str('cpu'), (w) => w.int(2)]);
          w.op(0x51);
        },
        (w) => w.int(0),
        (w) => w.intTuple([2]),
        (w) => w.intTuple([1]),
        (w) => w.bool(true),
        (w) => w.emptyOrderedDict(),
      ]);
      w.op(0x52);
    },
    (w) => w.bool(true),
    (w) => w.emptyOrderedDict(),
  ]);
  w.op(0x52, 0x73);
  const sd = parseTorchBin(torchZipFromPickle(w.stop(), { '0': new Uint8Array(Float32Array.of(3, 4).buffer) }), FILE);
  assert.deepEqual([...sd.get('p')!.data], [3, 4]);
});

test('readTorchBin reads from disk; a Git LFS pointer gets its own message', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tb-'));
  try {
    const file = path.join(dir, 'pytorch_model.bin');
    fs.writeFileSync(file, makeTorchZip(spec));
    checkSimple(readTorchBin(file));
    fs.writeFileSync(file, 'version https://git-lfs.github.com/spec/v1\noid sha256:00\nsize 9\n');
    assert.throws(() => readTorchBin(file), (e: unknown) => e instanceof PeftStudioError && e.code === 'BAD_WEIGHTS' && /Git LFS pointer/.test(e.message));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('protocol 4 spelling (FRAME, SHORT_BINUNICODE, MEMOIZE, STACK_GLOBAL, LONG_BINGET) reads the same', () => {
  const sb = (s: string) => [0x8c, s.length, ...Buffer.from(s)];
  const M = 0x94;
  const w = new PickleWriter().proto(4);
  w.op(0x95, 0, 0, 0, 0, 0, 0, 0, 0); // FRAME: a size hint only
  w.op(0x7d, M, ...sb('w'), M);
  w.op(...sb('torch._utils'), M, ...sb('_rebuild_tensor_v2'), M, 0x93, M);
  w.op(0x28, 0x28, ...sb('storage'), M, ...sb('torch'), M, ...sb('FloatStorage'), M, 0x93, M, ...sb('0'), M, ...sb('cpu'), M, 0x4b, 2, 0x74, M, 0x51);
  w.op(0x4b, 0, 0x4b, 2, 0x85, M, 0x4b, 1, 0x85, M, 0x89);
  w.op(...sb('collections'), M, ...sb('OrderedDict'), M, 0x93, M, 0x29, 0x52, M, 0x74, M, 0x52, M);
  w.op(0x73);
  // a second tensor on the same storage (offset 1) built from memoized objects: 4 = _rebuild_tensor_v2,
  // 5 = 'storage', 8 = torch.FloatStorage, 9 = '0', 10 = 'cpu', 16 = collections.OrderedDict
  w.op(...sb('w2'), M, 0x6a, 4, 0, 0, 0); // LONG_BINGET 4 → the _rebuild_tensor_v2 global
  w.op(0x28, 0x28, 0x68, 5, 0x68, 8, 0x68, 9, 0x68, 10, 0x4b, 2, 0x74, 0x51, 0x4b, 1, 0x4b, 1, 0x85, 0x4b, 1, 0x85, 0x89, 0x68, 16, 0x29, 0x52, 0x74, 0x52, 0x73);
  const sd = parseTorchBin(torchZipFromPickle(w.stop(), { '0': new Uint8Array(Float32Array.of(5, 6).buffer) }), FILE);
  assert.deepEqual([...sd.get('w')!.data], [5, 6]);
  assert.deepEqual([...sd.get('w2')!.data], [6]);
});
