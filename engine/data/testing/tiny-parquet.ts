/**
 * TEST HELPER: writes a minimal but valid Parquet file, because no Parquet writer is installed (hyparquet
 * only reads; hyparquet-writer, pyarrow are absent). One row group, one uncompressed v1 data page per
 * column, PLAIN encoding; flat columns of UTF-8 strings, int64 or double, each nullable. The reader under
 * test (hyparquet) is a complete implementation, so a file it reads back correctly is a fair fixture; real
 * Hub files add snappy and dictionary pages, which hyparquet handles on its own.
 */
import { writeFileSync } from 'node:fs';

export type ParquetColumn =
  | { name: string; type: 'string'; values: (string | null)[] }
  | { name: string; type: 'int64'; values: (number | null)[] }
  | { name: string; type: 'double'; values: (number | null)[] };

// Parquet enums (parquet.thrift).
const PHYSICAL = { string: 6 /* BYTE_ARRAY */, int64: 2 /* INT64 */, double: 5 /* DOUBLE */ };
const OPTIONAL = 1;
const UTF8 = 0;
const PLAIN = 0;
const RLE = 3;
const DATA_PAGE = 0;
const UNCOMPRESSED = 0;

export function writeParquet(file: string, columns: ParquetColumn[]): void {
  const numRows = columns[0].values.length;
  const out: Uint8Array[] = [ascii('PAR1')];
  let offset = 4;
  const chunks: Field[][] = [];
  for (const col of columns) {
    const body = pageBody(col);
    const header = struct([
      i32(1, DATA_PAGE),
      i32(2, body.length),
      i32(3, body.length),
      sub(5, [i32(1, numRows), i32(2, PLAIN), i32(3, RLE), i32(4, RLE)]),
    ]);
    const size = header.length + body.length;
    chunks.push([
      i64(2, offset),
      sub(3, [
        i32(1, PHYSICAL[col.type]),
        list(2, T.I32, [PLAIN, RLE]),
        list(3, T.BINARY, [col.name]),
        i32(4, UNCOMPRESSED),
        i64(5, numRows),
        i64(6, size),
        i64(7, size),
        i64(9, offset),
      ]),
    ]);
    out.push(header, body);
    offset += size;
  }
  const schema: Field[][] = [
    [bin(4, 'schema'), i32(5, columns.length)],
    ...columns.map((c) => [
      i32(1, PHYSICAL[c.type]),
      i32(3, OPTIONAL),
      bin(4, c.name),
      ...(c.type === 'string' ? [i32(6, UTF8)] : []),
    ]),
  ];
  const footer = struct([
    i32(1, 1),
    list(2, T.STRUCT, schema),
    i64(3, numRows),
    list(4, T.STRUCT, [[list(1, T.STRUCT, chunks), i64(2, offset - 4), i64(3, numRows)]]),
  ]);
  const len = new Uint8Array(4);
  new DataView(len.buffer).setUint32(0, footer.length, true);
  out.push(footer, len, ascii('PAR1'));
  writeFileSync(file, Buffer.concat(out));
}

/** v1 data page: definition levels (4-byte length + RLE runs of one), then the non-null values, PLAIN. */
function pageBody(col: ParquetColumn): Uint8Array {
  const levels = col.values.flatMap((v) => [2 /* run of 1, shifted left */, v === null ? 0 : 1]);
  const parts: number[] = [...u32(levels.length), ...levels];
  for (const v of col.values) {
    if (v === null) continue;
    if (col.type === 'string') {
      const bytes = new TextEncoder().encode(v as string);
      parts.push(...u32(bytes.length), ...bytes);
    } else {
      const b = new DataView(new ArrayBuffer(8));
      if (col.type === 'int64') b.setBigInt64(0, BigInt(v as number), true);
      else b.setFloat64(0, v as number, true);
      parts.push(...new Uint8Array(b.buffer));
    }
  }
  return Uint8Array.from(parts);
}

// --- Thrift compact protocol, just what the structures above use ---
const T = { I32: 5, I64: 6, BINARY: 8, LIST: 9, STRUCT: 12 };
type Field = { id: number; type: number; bytes: number[] };

const i32 = (id: number, v: number): Field => ({ id, type: T.I32, bytes: varint(zigzag(BigInt(v))) });
const i64 = (id: number, v: number): Field => ({ id, type: T.I64, bytes: varint(zigzag(BigInt(v))) });
const bin = (id: number, s: string): Field => ({ id, type: T.BINARY, bytes: binary(s) });
const sub = (id: number, fields: Field[]): Field => ({ id, type: T.STRUCT, bytes: [...struct(fields)] });
function list(id: number, elem: number, items: (number | string | Field[])[]): Field {
  const bytes = [items.length < 15 ? (items.length << 4) | elem : 0xf0 | elem];
  if (items.length >= 15) bytes.push(...varint(BigInt(items.length)));
  for (const it of items) {
    if (elem === T.I32) bytes.push(...varint(zigzag(BigInt(it as number))));
    else if (elem === T.BINARY) bytes.push(...binary(it as string));
    else bytes.push(...struct(it as Field[]));
  }
  return { id, type: T.LIST, bytes };
}
function struct(fields: Field[]): Uint8Array {
  const bytes: number[] = [];
  let last = 0;
  for (const f of fields) {
    bytes.push(((f.id - last) << 4) | f.type, ...f.bytes); // ids ascend by 1–15 here: short form only
    last = f.id;
  }
  bytes.push(0); // stop
  return Uint8Array.from(bytes);
}
const zigzag = (v: bigint) => (v << 1n) ^ (v >> 63n);
function varint(v: bigint): number[] {
  const out: number[] = [];
  v = BigInt.asUintN(64, v);
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return out;
}
function binary(s: string): number[] {
  const b = new TextEncoder().encode(s);
  return [...varint(BigInt(b.length)), ...b];
}
const u32 = (n: number) => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
const ascii = (s: string) => new TextEncoder().encode(s);
