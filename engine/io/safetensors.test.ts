import { test } from 'node:test';
import { expectError as expectAnyError } from '../../test/helpers/expect-error';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PeftStudioError, type ErrorCode } from '../errors';
import {
  f16BitsToFloat32,
  float32BitsToBF16,
  float32BitsToF16,
  parseSafetensors,
  readSafetensors,
  serializeSafetensors,
  writeSafetensors,
} from './safetensors';
import {
  corruptHeader,
  makeSafetensors,
  rawSafetensors,
  rawWithHeaderBytes,
  splitSafetensors,
  truncate,
  withHeaderLength,
} from '../../test/helpers/make-safetensors';
import { tempPathFor, writeFileAtomic, writeFileAtomicAsync, type AtomicFs, type AtomicFsAsync } from './atomic';

const FILE = '/models/x/model.safetensors';
/** Every weights error must name the file at fault. */
const expectError = (fn: () => unknown, code: ErrorCode, ...patterns: RegExp[]) => expectAnyError(fn, code, FILE, ...patterns);
const FIXTURE_DIR = path.resolve(__dirname, '../../../shared/fixtures/hf-bert-tiny');

function f32bits(x: number): number {
  return new Uint32Array(Float32Array.of(x).buffer)[0]!;
}

/** Asserts a PeftStudioError with `code` whose message names the file and matches every pattern. */

/** Two 2-element F32 tensors: a at [0,8), b at [8,16). */
function twoTensors(): Uint8Array {
  return makeSafetensors([
    { name: 'a', dtype: 'F32', shape: [2], data: Float32Array.of(1, 2) },
    { name: 'b', dtype: 'F32', shape: [2], data: Float32Array.of(3, 4) },
  ]);
}

test('F32 round trip is bit-exact, including NaN payloads, -0, inf and subnormals', () => {
  const bits = Uint32Array.of(0x3f800000, 0x80000000, 0x7f800000, 0xff800000, 0x00000001, 0x7fc00123, 0x12345678, 0xc0490fdb);
  const data = new Float32Array(bits.buffer);
  const { tensors } = parseSafetensors(makeSafetensors({ w: { dtype: 'F32', shape: [2, 4], data } }), FILE);
  const w = tensors.get('w')!;
  assert.equal(w.dtype, 'F32');
  assert.deepEqual(w.shape, [2, 4]);
  assert.ok(w.data instanceof Float32Array);
  assert.deepEqual(new Uint32Array(w.data.buffer, w.data.byteOffset, w.data.length), bits);
});

test('F16 widening matches hand-computed values', () => {
  const cases: Array<[number, number]> = [
    [0x3c00, 1],
    [0xc000, -2],
    [0x0001, 5.960464477539063e-8],
    [0x03ff, 6.097555160522461e-5],
    [0x0400, 6.103515625e-5],
    [0x7bff, 65504],
    [0x3555, 0.333251953125],
    [0x7c00, Infinity],
    [0xfc00, -Infinity],
  ];
  for (const [h, v] of cases) assert.equal(f16BitsToFloat32(h), v, `0x${h.toString(16)}`);
  assert.ok(Object.is(f16BitsToFloat32(0x8000), -0));
  assert.ok(Number.isNaN(f16BitsToFloat32(0x7e00)));
  // NaN payloads (signalling ones too) survive widening through the file path: mantissa bits move up by 13
  const data = new Uint8Array(Uint16Array.of(0x7c01, 0xfe03).buffer);
  const { tensors } = parseSafetensors(rawSafetensors({ n: { dtype: 'F16', shape: [2], data_offsets: [0, 4] } }, data), FILE);
  const out = tensors.get('n')!.data;
  assert.deepEqual([...new Uint32Array(out.buffer, out.byteOffset, 2)], [0x7f802000, 0xffc06000]);
});

test('F16 and BF16 tensors decode through the file path, from raw bit patterns', () => {
  const halves = Uint16Array.of(0x3c00, 0xc000, 0x0001, 0x7c00);
  const bf16 = Uint16Array.of(0x3f80, 0xc000, 0x0001, 0xff80);
  const data = new Uint8Array(16);
  data.set(new Uint8Array(halves.buffer), 0);
  data.set(new Uint8Array(bf16.buffer), 8);
  const bytes = rawSafetensors(
    { h: { dtype: 'F16', shape: [4], data_offsets: [0, 8] }, b: { dtype: 'BF16', shape: [2, 2], data_offsets: [8, 16] } },
    data,
  );
  const { tensors } = parseSafetensors(bytes, FILE);
  assert.deepEqual([...tensors.get('h')!.data], [1, -2, 5.960464477539063e-8, Infinity]);
  // BF16 0x0001 is the float32 subnormal 2^-133 (bits 0x00010000)
  assert.deepEqual([...tensors.get('b')!.data], [1, -2, 2 ** -133, -Infinity]);
  assert.deepEqual(tensors.get('b')!.shape, [2, 2]);
});

test('float32 → F16/BF16 rounds to nearest even, overflows to inf, keeps subnormals', () => {
  assert.equal(float32BitsToF16(f32bits(1)), 0x3c00);
  assert.equal(float32BitsToF16(f32bits(-2)), 0xc000);
  assert.equal(float32BitsToF16(f32bits(65504)), 0x7bff);
  assert.equal(float32BitsToF16(f32bits(65520)), 0x7c00); // halfway to the next binade rounds up to inf
  assert.equal(float32BitsToF16(f32bits(65519)), 0x7bff);
  assert.equal(float32BitsToF16(f32bits(1 + 2 ** -11)), 0x3c00); // tie, even stays
  assert.equal(float32BitsToF16(f32bits(1 + 3 * 2 ** -11)), 0x3c02); // tie, odd rounds up
  assert.equal(float32BitsToF16(f32bits(2 ** -24)), 0x0001);
  assert.equal(float32BitsToF16(f32bits(2 ** -25)), 0x0000); // tie with 0: even
  assert.equal(float32BitsToF16(f32bits(1.5 * 2 ** -25)), 0x0001);
  assert.equal(float32BitsToF16(f32bits(3 * 2 ** -25)), 0x0002); // tie between 1 and 2 → 2
  assert.equal(float32BitsToF16(f32bits(-1e-30)), 0x8000);
  assert.equal(float32BitsToF16(f32bits(Infinity)), 0x7c00);
  assert.equal(float32BitsToF16(0x7fc00000) & 0x7c00, 0x7c00);
  assert.notEqual(float32BitsToF16(0x7fc00000) & 0x3ff, 0);
  assert.equal(float32BitsToBF16(f32bits(1)), 0x3f80);
  assert.equal(float32BitsToBF16(0x3f808000), 0x3f80); // tie, even stays
  assert.equal(float32BitsToBF16(0x3f818000), 0x3f82); // tie, odd rounds up
  assert.equal(float32BitsToBF16(0x3f808001), 0x3f81);
  assert.equal(float32BitsToBF16(0x7f7fffff), 0x7f80); // max float rounds to inf
  assert.equal(float32BitsToBF16(0xff800000), 0xff80);
  assert.equal(float32BitsToBF16(0x7f800001) & 0x7f80, 0x7f80);
  assert.notEqual(float32BitsToBF16(0x7f800001) & 0x7f, 0);
});

test('every F16 value survives float32 → F16 → float32 unchanged', () => {
  for (let h = 0; h < 0x10000; h++) {
    const exp = (h >> 10) & 0x1f;
    if (exp === 31 && (h & 0x3ff) !== 0) continue; // NaNs are quieted
    assert.equal(float32BitsToF16(f32bits(f16BitsToFloat32(h))), h, `0x${h.toString(16)}`);
  }
});

test('F16/BF16/I64/I32 round trip write → read', () => {
  const f = Float32Array.of(1, -2, 0.5, 3.140625, 2 ** -24, 70000);
  const bytes = serializeSafetensors(
    [
      { name: 'h', dtype: 'F16', shape: [6], data: f },
      { name: 'b', dtype: 'BF16', shape: [2, 3], data: f },
      { name: 'ids', dtype: 'I64', shape: [1, 3], data: BigInt64Array.of(0n, -5n, 2147483647n) },
      { name: 'ids32', dtype: 'I64', shape: [2], data: Int32Array.of(-2147483648, 7) },
      { name: 'n', dtype: 'I32', shape: [], data: Int32Array.of(42) },
    ],
    { format: 'pt' },
  );
  const { tensors, metadata } = parseSafetensors(bytes, FILE);
  assert.deepEqual(metadata, { format: 'pt' });
  assert.deepEqual([...tensors.keys()], ['h', 'b', 'ids', 'ids32', 'n']);
  assert.deepEqual([...tensors.get('h')!.data], [1, -2, 0.5, 3.140625, 2 ** -24, Infinity]);
  assert.deepEqual([...tensors.get('b')!.data], [1, -2, 0.5, 3.140625, 2 ** -24, 70144]);
  const ids = tensors.get('ids')!;
  assert.equal(ids.dtype, 'I64');
  assert.ok(ids.data instanceof Int32Array);
  assert.deepEqual([...ids.data], [0, -5, 2147483647]);
  assert.deepEqual([...tensors.get('ids32')!.data], [-2147483648, 7]);
  assert.deepEqual(tensors.get('n')!.shape, []);
  assert.deepEqual([...tensors.get('n')!.data], [42]);
});

test('serialized header is compact JSON, metadata first, space-padded to 8, integer-like names kept in order', () => {
  const bytes = makeSafetensors(
    [
      { name: 'z', dtype: 'F32', shape: [1], data: Float32Array.of(1) },
      { name: '0', dtype: 'F32', shape: [1], data: Float32Array.of(2) },
    ],
    { format: 'pt' },
  );
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.equal(n % 8, 0);
  const text = Buffer.from(bytes.subarray(8, 8 + n)).toString('utf8');
  assert.equal(
    text.trimEnd(),
    '{"__metadata__":{"format":"pt"},"z":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"0":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}',
  );
  assert.match(text, /^[^ ]* *$/);
  assert.deepEqual([...parseSafetensors(bytes, FILE).tensors.keys()], ['z', '0']);
});

test('F64 narrows, small integer types widen to int32, BOOL to 0/1', () => {
  const data = new Uint8Array(8 + 2 + 1 + 1 + 2);
  new DataView(data.buffer).setFloat64(0, 0.1, true);
  new DataView(data.buffer).setInt16(8, -300, true);
  data[10] = 0xff; // I8 -1
  data[11] = 0xff; // U8 255
  data[12] = 1;
  data[13] = 0;
  const { tensors } = parseSafetensors(
    rawSafetensors(
      {
        d: { dtype: 'F64', shape: [1], data_offsets: [0, 8] },
        s: { dtype: 'I16', shape: [1], data_offsets: [8, 10] },
        c: { dtype: 'I8', shape: [1], data_offsets: [10, 11] },
        u: { dtype: 'U8', shape: [1], data_offsets: [11, 12] },
        m: { dtype: 'BOOL', shape: [2], data_offsets: [12, 14] },
      },
      data,
    ),
    FILE,
  );
  assert.equal(tensors.get('d')!.data[0], Math.fround(0.1));
  assert.deepEqual([...tensors.get('s')!.data], [-300]);
  assert.deepEqual([...tensors.get('c')!.data], [-1]);
  assert.deepEqual([...tensors.get('u')!.data], [255]);
  assert.deepEqual([...tensors.get('m')!.data], [1, 0]);
  assert.ok(tensors.get('m')!.data instanceof Int32Array);
});

test('unaligned data offsets are read correctly', () => {
  // header of 13 bytes: the data region starts at byte 21, and the F32 tensor at an odd offset in it
  const header = '{"u":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"w":{"dtype":"F32","shape":[2],"data_offsets":[1,9]},"h":{"dtype":"F16","shape":[1],"data_offsets":[9,11]},"l":{"dtype":"I64","shape":[1],"data_offsets":[11,19]}}';
  const data = new Uint8Array(19);
  const dv = new DataView(data.buffer);
  data[0] = 7;
  dv.setFloat32(1, 1.5, true);
  dv.setFloat32(5, -0.25, true);
  dv.setUint16(9, 0x3c00, true);
  dv.setBigInt64(11, -3n, true);
  // pad the header so that "w" (data offset 1) starts at an address that is not a multiple of 4
  const padded = (8 + header.length + 1) % 4 === 0 ? header + ' ' : header;
  const bytes = rawSafetensors(padded, data);
  assert.notEqual((8 + padded.length + 1) % 4, 0);
  const { tensors } = parseSafetensors(bytes, FILE);
  assert.deepEqual([...tensors.get('w')!.data], [1.5, -0.25]);
  assert.deepEqual([...tensors.get('h')!.data], [1]);
  assert.deepEqual([...tensors.get('l')!.data], [-3]);
  // and from a Uint8Array that is itself a view at an odd offset of a larger buffer
  const shifted = new Uint8Array(bytes.length + 3);
  shifted.set(bytes, 3);
  assert.deepEqual([...parseSafetensors(shifted.subarray(3), FILE).tensors.get('w')!.data], [1.5, -0.25]);
});

test('reads the real HF fixture model.safetensors', () => {
  const file = path.join(FIXTURE_DIR, 'model.safetensors');
  assert.ok(fs.existsSync(file), `${file} is missing: these tests need the shared fixtures checked out at ../shared next to the repo`);
  const { tensors, metadata } = readSafetensors(file);
  assert.equal(metadata.format, 'pt');
  assert.equal(tensors.size, 42);
  const emb = tensors.get('bert.embeddings.word_embeddings.weight')!;
  assert.deepEqual(emb.shape, [1000, 128]);
  assert.equal(emb.dtype, 'F32');
  assert.equal(emb.data.length, 128000);
  assert.ok(emb.data.every(Number.isFinite));
  const pos = tensors.get('bert.embeddings.position_ids')!;
  assert.equal(pos.dtype, 'I64');
  assert.deepEqual(pos.shape, [1, 512]);
  assert.ok(pos.data instanceof Int32Array);
  assert.deepEqual([...pos.data.subarray(0, 4)], [0, 1, 2, 3]);
  assert.equal(pos.data[511], 511);
  assert.deepEqual(tensors.get('bert.encoder.layer.1.attention.self.query.weight')!.shape, [128, 128]);
  assert.deepEqual(tensors.get('classifier.weight')!.shape, [2, 128]);
  // values are those of the file: compare one against a direct read
  const raw = fs.readFileSync(file);
  const n = Number(raw.readBigUInt64LE(0));
  const { header } = splitSafetensors(raw);
  const [begin] = header['bert.embeddings.word_embeddings.weight'].data_offsets;
  assert.equal(emb.data[5], raw.readFloatLE(8 + n + begin + 20));
});

test('write → read through writeSafetensors on disk', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'st-'));
  try {
    const file = path.join(dir, 'adapter.safetensors');
    writeSafetensors(file, { b: { dtype: 'F32', shape: [3], data: Float32Array.of(0.1, 0.2, 0.3) } }, { step: '7' });
    const { tensors, metadata } = readSafetensors(file);
    assert.deepEqual(metadata, { step: '7' });
    assert.deepEqual(tensors.get('b')!.data, Float32Array.of(0.1, 0.2, 0.3));
    assert.deepEqual(fs.readdirSync(dir), ['adapter.safetensors']);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('serialize refuses inconsistent input', () => {
  const bad = (fn: () => unknown, re: RegExp) =>
    assert.throws(fn, (e: unknown) => e instanceof PeftStudioError && e.code === 'BAD_INPUT' && re.test(e.message));
  bad(() => serializeSafetensors({ a: { dtype: 'F32', shape: [3], data: Float32Array.of(1, 2) } }), /shape \[3\] \(3 elements\) but 2 values/);
  bad(() => serializeSafetensors({ a: { dtype: 'F32', shape: [1], data: Int32Array.of(1) } }), /dtype F32 but its data is a Int32Array/);
  bad(
    () =>
      serializeSafetensors([
        { name: 'a', dtype: 'F32', shape: [1], data: Float32Array.of(1) },
        { name: 'a', dtype: 'F32', shape: [1], data: Float32Array.of(1) },
      ]),
    /"a" is reserved or repeated/,
  );
});

test('missing file → MISSING_FILE', () => {
  assert.throws(() => readSafetensors('/nonexistent/model.safetensors'), (e: unknown) => e instanceof PeftStudioError && e.code === 'MISSING_FILE' && e.message.includes('/nonexistent/model.safetensors'));
});

// --- malformed files: each names the file and the specific problem -------------------------------

test('file shorter than 8 bytes', () => {
  expectError(() => parseSafetensors(new Uint8Array(5), FILE), 'BAD_WEIGHTS', /5 bytes, shorter than the 8-byte header length/);
  expectError(() => parseSafetensors(truncate(twoTensors(), 0), FILE), 'BAD_WEIGHTS', /0 bytes/);
});

test('header length past the end of the file, or absurd', () => {
  const good = twoTensors();
  expectError(() => parseSafetensors(withHeaderLength(good, good.length), FILE), 'BAD_WEIGHTS', new RegExp(`header length ${good.length} runs past the end of the file \\(${good.length} bytes\\)`));
  expectError(() => parseSafetensors(withHeaderLength(good, 2n ** 63n), FILE), 'BAD_WEIGHTS', /header length 9223372036854775808 is absurdly large/);
  // an interrupted download: the header is cut
  expectError(() => parseSafetensors(truncate(good, 20), FILE), 'BAD_WEIGHTS', /runs past the end of the file \(20 bytes\)/);
});

test('header not UTF-8, not JSON, not an object', () => {
  expectError(() => parseSafetensors(rawWithHeaderBytes(Uint8Array.of(0x7b, 0xff, 0xfe, 0x7d)), FILE), 'BAD_WEIGHTS', /header is not valid UTF-8 JSON/);
  expectError(() => parseSafetensors(rawSafetensors('{"a": {'), FILE), 'BAD_WEIGHTS', /header is not valid UTF-8 JSON/);
  expectError(() => parseSafetensors(rawSafetensors('[1, 2]'), FILE), 'BAD_WEIGHTS', /header JSON must be an object/);
  expectError(() => parseSafetensors(rawSafetensors('null'), FILE), 'BAD_WEIGHTS', /header JSON must be an object/);
});

test('entries missing fields or of the wrong types', () => {
  const good = twoTensors();
  expectError(() => parseSafetensors(corruptHeader(good, (h) => void delete h.a.dtype), FILE), 'BAD_WEIGHTS', /tensor "a": header entry is missing dtype/);
  expectError(() => parseSafetensors(corruptHeader(good, (h) => void delete h.b.data_offsets), FILE), 'BAD_WEIGHTS', /tensor "b": header entry is missing data_offsets/);
  expectError(() => parseSafetensors(corruptHeader(good, (h) => void delete h.a.shape), FILE), 'BAD_WEIGHTS', /tensor "a": header entry is missing shape/);
  expectError(() => parseSafetensors(corruptHeader(good, (h) => void (h.a = 3)), FILE), 'BAD_WEIGHTS', /tensor "a": header entry must be an object/);
  expectError(() => parseSafetensors(corruptHeader(good, (h) => void (h.a.dtype = 4)), FILE), 'BAD_WEIGHTS', /tensor "a": dtype must be a string/);
  expectError(() => parseSafetensors(corruptHeader(good, (h) => void (h.a.shape = '2')), FILE), 'BAD_WEIGHTS', /tensor "a": shape must be an array/);
  expectError(() => parseSafetensors(corruptHeader(good, (h) => void (h.a.data_offsets = [0])), FILE), 'BAD_WEIGHTS', /tensor "a": data_offsets must be \[begin, end\]/);
  expectError(() => parseSafetensors(corruptHeader(good, (h) => void (h.a.data_offsets = ['0', 8])), FILE), 'BAD_WEIGHTS', /tensor "a": data_offsets must be/);
  expectError(() => parseSafetensors(corruptHeader(good, (h) => void (h.a.data_offsets = [-8, 0])), FILE), 'BAD_WEIGHTS', /tensor "a": data_offsets must be/);
});

test('unknown dtype is named; known-but-unsupported ones are UNSUPPORTED', () => {
  const good = twoTensors();
  expectError(() => parseSafetensors(corruptHeader(good, (h) => void (h.b.dtype = 'F128')), FILE), 'BAD_WEIGHTS', /tensor "b": unknown dtype "F128"/);
  expectError(() => parseSafetensors(corruptHeader(good, (h) => void (h.b.dtype = 'U32')), FILE), 'UNSUPPORTED', /tensor "b" has dtype U32/);
});

test('negative or non-integer shape dimensions', () => {
  const good = twoTensors();
  expectError(() => parseSafetensors(corruptHeader(good, (h) => void (h.a.shape = [-2])), FILE), 'BAD_WEIGHTS', /tensor "a": shape \[-2\] has an invalid dimension -2/);
  expectError(() => parseSafetensors(corruptHeader(good, (h) => void (h.a.shape = [1.5])), FILE), 'BAD_WEIGHTS', /invalid dimension 1.5/);
  expectError(() => parseSafetensors(corruptHeader(good, (h) => void (h.a.shape = [null])), FILE), 'BAD_WEIGHTS', /invalid dimension null/);
});

test('offsets reversed or past the data region', () => {
  const good = twoTensors();
  expectError(() => parseSafetensors(corruptHeader(good, (h) => void (h.b.data_offsets = [16, 8])), FILE), 'BAD_WEIGHTS', /tensor "b": data_offsets \[16, 8\] begin after they end/);
  expectError(() => parseSafetensors(corruptHeader(good, (h) => void (h.b.data_offsets = [12, 20])), FILE), 'BAD_WEIGHTS', /tensor "b": data_offsets \[12, 20\] run past the end of the data region \(16 bytes\)/);
  // a file cut inside the data region
  expectError(() => parseSafetensors(truncate(good, good.length - 1), FILE), 'BAD_WEIGHTS', /tensor "b": data_offsets \[8, 16\] run past the end of the data region \(15 bytes\)/);
});

test('overlapping tensors', () => {
  const good = twoTensors();
  expectError(() => parseSafetensors(corruptHeader(good, (h) => void (h.b.data_offsets = [4, 12])), FILE), 'BAD_WEIGHTS', /tensors "a" \[0, 8\] and "b" \[4, 12\] overlap/);
  expectError(() => parseSafetensors(corruptHeader(good, (h) => void (h.b.data_offsets = [0, 8])), FILE), 'BAD_WEIGHTS', /overlap/);
});

test('data_offsets must tile the data region exactly: no gap, no leftover bytes', () => {
  const good = twoTensors();
  // A gap between the tensors, and one before the first.
  const gapped = (() => {
    const { header, data } = splitSafetensors(good);
    header.b.data_offsets = [12, 20];
    const wide = new Uint8Array(20);
    wide.set(data.subarray(0, 8), 0);
    wide.set(data.subarray(8, 16), 12);
    return rawSafetensors(header, wide);
  })();
  expectError(() => parseSafetensors(gapped, FILE), 'BAD_WEIGHTS', /tensor "b" begins at data offset 12, leaving 4 bytes unaccounted for after tensor "a"/);
  const late = corruptHeader(good, (h) => {
    h.a.data_offsets = [4, 12];
    h.b.data_offsets = [12, 20];
  });
  expectError(() => parseSafetensors(late, FILE), 'BAD_WEIGHTS', /begins at data offset 4, leaving 4 bytes unaccounted for after the start of the data region|run past the end/);
  // Bytes appended after the last tensor.
  const appended = new Uint8Array(good.length + 3);
  appended.set(good);
  expectError(() => parseSafetensors(appended, FILE), 'BAD_WEIGHTS', /cover 16 bytes but the data region .* holds 19 bytes \(3 bytes unaccounted for\)/);
});

test('a header length one byte short of the padded header is refused, not read shifted by a byte', () => {
  // The engine pads headers with spaces (as the reference writer does), so a length one short still parses
  // as JSON; the data region then starts a byte early and every tensor would be read shifted.
  const good = twoTensors();
  const n = Number(new DataView(good.buffer, good.byteOffset, 8).getBigUint64(0, true));
  assert.equal(String.fromCharCode(good[8 + n - 1]!), ' ', 'the fixture header ends in padding');
  expectError(() => parseSafetensors(withHeaderLength(good, n - 1), FILE), 'BAD_WEIGHTS', new RegExp(`cover 16 bytes but the data region after the ${n - 1}-byte header holds 17 bytes`));
  // One byte long: the JSON still parses only if the next byte were whitespace; it is data, so either error is fine.
  expectError(() => parseSafetensors(withHeaderLength(good, n + 1), FILE), 'BAD_WEIGHTS');
});

test('byte size disagreeing with shape and dtype', () => {
  const good = twoTensors();
  expectError(() => parseSafetensors(corruptHeader(good, (h) => void (h.a.shape = [3])), FILE), 'BAD_WEIGHTS', /tensor "a": shape \[3\] of F32 needs 12 bytes but data_offsets \[0, 8\] hold 8 bytes/);
  expectError(() => parseSafetensors(corruptHeader(good, (h) => void (h.a.dtype = 'F64')), FILE), 'BAD_WEIGHTS', /shape \[2\] of F64 needs 16 bytes but .* hold 8 bytes/);
});

test('__metadata__ must map strings to strings', () => {
  const good = makeSafetensors({ a: { dtype: 'F32', shape: [1], data: Float32Array.of(1) } }, { format: 'pt' });
  expectError(() => parseSafetensors(corruptHeader(good, (h) => void (h.__metadata__ = { step: 3 })), FILE), 'BAD_WEIGHTS', /__metadata__ "step" must be a string, got 3/);
  expectError(() => parseSafetensors(corruptHeader(good, (h) => void (h.__metadata__ = ['x'])), FILE), 'BAD_WEIGHTS', /__metadata__ must be an object of strings/);
});

test('I64 values must fit in int32', () => {
  const bytes = makeSafetensors({ ids: { dtype: 'I64', shape: [2], data: BigInt64Array.of(1n, 2n ** 31n) } });
  expectError(() => parseSafetensors(bytes, FILE), 'BAD_WEIGHTS', /tensor "ids" \(I64\) holds 2147483648 at element 1, which does not fit in int32/);
});

test('a Git LFS pointer is recognised', () => {
  const pointer = Buffer.from('version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 123\n');
  expectError(() => parseSafetensors(pointer, FILE), 'BAD_WEIGHTS', /Git LFS pointer/, /git lfs pull/);
});

// --- atomic writes (engine/io/atomic.ts), which writeSafetensors goes through ------------------------

function errno(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: simulated`), { code });
}

/** Real fs calls, with one of them replaced by a failure. */
function failingFs(which: keyof AtomicFs, code: string): AtomicFs {
  const real: AtomicFs = {
    openSync: (f, fl, m) => fs.openSync(f, fl, m),
    writeSync: (fd, d, o, l) => fs.writeSync(fd, d, o, l),
    fsyncSync: (fd) => fs.fsyncSync(fd),
    closeSync: (fd) => fs.closeSync(fd),
    renameSync: (a, b) => fs.renameSync(a, b),
    unlinkSync: (f) => fs.unlinkSync(f),
  };
  return {
    ...real,
    [which]: (...args: unknown[]) => {
      // let the write start for real, so there is a partial temp file to clean up
      if (which === 'writeSync') (real.writeSync as (...a: unknown[]) => number)(args[0], args[1], 0, 1);
      throw errno(code);
    },
  };
}

function withDir<T>(fn: (dir: string) => T): T {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atomic-'));
  const done = () => fs.rmSync(dir, { recursive: true, force: true });
  try {
    const r = fn(dir);
    if (r instanceof Promise) return r.finally(done) as T;
    done();
    return r;
  } catch (e) {
    done();
    throw e;
  }
}

test('writeFileAtomic writes, replaces, and leaves no temp file', () =>
  withDir((dir) => {
    const file = path.join(dir, 'ckpt.safetensors');
    writeFileAtomic(file, 'first');
    writeFileAtomic(file, Uint8Array.of(1, 2, 3));
    assert.deepEqual([...fs.readFileSync(file)], [1, 2, 3]);
    assert.deepEqual(fs.readdirSync(dir), ['ckpt.safetensors']);
    assert.match(path.basename(tempPathFor(file)), new RegExp(`^\\.ckpt\\.safetensors\\.tmp-${process.pid}-[0-9a-f]+$`));
    assert.equal(path.dirname(tempPathFor(file)), dir);
  }));

for (const [which, code, reason] of [
  ['writeSync', 'ENOSPC', 'disk full'],
  ['openSync', 'EACCES', 'permission denied'],
  ['fsyncSync', 'EIO', 'input/output error'],
  ['renameSync', 'EROFS', 'read-only file system'],
] as const) {
  test(`writeFileAtomic: ${code} in ${which} keeps the old file and removes the temp file`, () =>
    withDir((dir) => {
      const file = path.join(dir, 'ckpt.safetensors');
      fs.writeFileSync(file, 'previous good checkpoint');
      assert.throws(
        () => writeFileAtomic(file, 'new data that must not land', failingFs(which, code)),
        (e: unknown) =>
          e instanceof PeftStudioError && e.code === 'IO' && e.file === file && e.message.includes(file) && e.message.includes(reason) && e.message.includes(code),
      );
      assert.equal(fs.readFileSync(file, 'utf8'), 'previous good checkpoint');
      assert.deepEqual(fs.readdirSync(dir), ['ckpt.safetensors']);
    }));
}

test('writeFileAtomic into a missing directory is an IO error naming the file', () => {
  const file = path.join(os.tmpdir(), `no-such-dir-${process.pid}`, 'x.safetensors');
  assert.throws(() => writeFileAtomic(file, 'x'), (e: unknown) => e instanceof PeftStudioError && e.code === 'IO' && e.message.includes(file) && /does not exist/.test(e.message));
});

test('writeFileAtomicAsync writes, and on ENOSPC keeps the old file and removes the temp file', () =>
  withDir(async (dir) => {
    const file = path.join(dir, 'state.json');
    await writeFileAtomicAsync(file, '{"step": 1}');
    assert.equal(fs.readFileSync(file, 'utf8'), '{"step": 1}');
    const failing: AtomicFsAsync = {
      open: async (f, flags, mode) => {
        const h = await fs.promises.open(f, flags, mode);
        return {
          write: async (d, o, l) => {
            await h.write(d, o, Math.min(l, 2));
            throw errno('ENOSPC');
          },
          sync: () => h.sync(),
          close: () => h.close(),
        };
      },
      rename: (a, b) => fs.promises.rename(a, b),
      unlink: (f) => fs.promises.unlink(f),
    };
    await assert.rejects(writeFileAtomicAsync(file, '{"step": 2}', failing), (e: unknown) => e instanceof PeftStudioError && e.code === 'IO' && /disk full/.test(e.message) && e.message.includes(file));
    assert.equal(fs.readFileSync(file, 'utf8'), '{"step": 1}');
    assert.deepEqual(fs.readdirSync(dir), ['state.json']);
  }));
