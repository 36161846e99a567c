/**
 * A minimal ZIP reader for torch.save archives: central directory, stored and deflated entries, ZIP64
 * (checkpoints over 4 GB need it). Only what the archive says is trusted after bounds checks; CRCs are
 * verified so a damaged download is reported as such rather than as garbage weights.
 */
import * as zlib from 'node:zlib';
import { PeftStudioError } from '../../errors';

export interface ZipEntry {
  name: string;
  method: number;
  flags: number;
  crc32: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_LOCAL = 0x04034b50;

function bad(file: string, problem: string): PeftStudioError {
  return new PeftStudioError('BAD_WEIGHTS', `${file}: ${problem}`, file);
}

function u64(view: DataView, at: number, file: string): number {
  const v = view.getBigUint64(at, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw bad(file, 'ZIP64 field out of range; the archive is corrupt.');
  return Number(v);
}

export class ZipReader {
  readonly entries = new Map<string, ZipEntry>();
  private readonly view: DataView;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly file: string,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.readCentralDirectory();
  }

  private need(at: number, len: number, what: string): void {
    if (at < 0 || at + len > this.bytes.length) throw bad(this.file, `${what} lies outside the file; the archive is truncated or corrupt.`);
  }

  private findEocd(): number {
    // The EOCD record is 22 bytes plus a comment of up to 65535 bytes, at the very end.
    const min = Math.max(0, this.bytes.length - 22 - 0xffff);
    for (let at = this.bytes.length - 22; at >= min; at--) {
      if (this.view.getUint32(at, true) === SIG_EOCD) return at;
    }
    throw bad(this.file, 'no ZIP end-of-central-directory record; the archive is truncated or not a ZIP file.');
  }

  private readCentralDirectory(): void {
    const v = this.view;
    const eocd = this.findEocd();
    let count = v.getUint16(eocd + 10, true);
    let cdSize = v.getUint32(eocd + 12, true);
    let cdOffset = v.getUint32(eocd + 16, true);
    if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
      const loc = eocd - 20;
      this.need(loc, 20, 'ZIP64 locator');
      if (v.getUint32(loc, true) !== SIG_ZIP64_LOCATOR) throw bad(this.file, 'ZIP64 fields without a ZIP64 locator; the archive is corrupt.');
      const rec = u64(v, loc + 8, this.file);
      this.need(rec, 56, 'ZIP64 end-of-central-directory record');
      if (v.getUint32(rec, true) !== SIG_ZIP64_EOCD) throw bad(this.file, 'bad ZIP64 end-of-central-directory signature.');
      count = u64(v, rec + 32, this.file);
      cdSize = u64(v, rec + 40, this.file);
      cdOffset = u64(v, rec + 48, this.file);
    }
    this.need(cdOffset, cdSize, 'ZIP central directory');
    let at = cdOffset;
    for (let i = 0; i < count; i++) {
      this.need(at, 46, 'ZIP central directory entry');
      if (v.getUint32(at, true) !== SIG_CENTRAL) throw bad(this.file, `bad ZIP central directory signature at entry ${i}.`);
      const nameLen = v.getUint16(at + 28, true);
      const extraLen = v.getUint16(at + 30, true);
      const commentLen = v.getUint16(at + 32, true);
      this.need(at + 46, nameLen + extraLen, 'ZIP entry name');
      const name = Buffer.from(this.bytes.subarray(at + 46, at + 46 + nameLen)).toString('utf8');
      const entry: ZipEntry = {
        name,
        flags: v.getUint16(at + 8, true),
        method: v.getUint16(at + 10, true),
        crc32: v.getUint32(at + 16, true),
        compressedSize: v.getUint32(at + 20, true),
        size: v.getUint32(at + 24, true),
        localHeaderOffset: v.getUint32(at + 42, true),
      };
      this.applyZip64Extra(entry, at + 46 + nameLen, extraLen);
      if (this.entries.has(name)) throw bad(this.file, `ZIP entry "${name}" appears twice.`);
      this.entries.set(name, entry);
      at += 46 + nameLen + extraLen + commentLen;
    }
  }

  /** ZIP64 extra field (id 1): 8-byte values present only for the 32-bit fields that are saturated. */
  private applyZip64Extra(e: ZipEntry, start: number, len: number): void {
    const v = this.view;
    let at = start;
    while (at + 4 <= start + len) {
      const id = v.getUint16(at, true);
      const size = v.getUint16(at + 2, true);
      if (id === 1) {
        let p = at + 4;
        const take = (): number => {
          if (p + 8 > at + 4 + size) throw bad(this.file, `ZIP64 extra field of "${e.name}" is too short.`);
          const x = u64(v, p, this.file);
          p += 8;
          return x;
        };
        if (e.size === 0xffffffff) e.size = take();
        if (e.compressedSize === 0xffffffff) e.compressedSize = take();
        if (e.localHeaderOffset === 0xffffffff) e.localHeaderOffset = take();
      }
      at += 4 + size;
    }
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** The entry's bytes: a view for stored entries (no copy), inflated for deflated ones. */
  read(name: string): Uint8Array {
    const e = this.entries.get(name);
    if (!e) throw bad(this.file, `archive has no entry "${name}".`);
    const v = this.view;
    this.need(e.localHeaderOffset, 30, `local header of "${name}"`);
    if (v.getUint32(e.localHeaderOffset, true) !== SIG_LOCAL) throw bad(this.file, `bad ZIP local header signature for "${name}".`);
    if (e.flags & 1) throw new PeftStudioError('UNSUPPORTED', `${this.file}: ZIP entry "${name}" is encrypted.`, this.file);
    // The local header's extra field differs from the central one (torch pads it to align the data).
    const dataAt = e.localHeaderOffset + 30 + v.getUint16(e.localHeaderOffset + 26, true) + v.getUint16(e.localHeaderOffset + 28, true);
    this.need(dataAt, e.compressedSize, `data of "${name}"`);
    const raw = this.bytes.subarray(dataAt, dataAt + e.compressedSize);
    let data: Uint8Array;
    if (e.method === 0) data = raw;
    else if (e.method === 8) {
      try {
        // Capped at the declared size, so a deflate bomb fails here instead of exhausting memory.
        data = zlib.inflateRawSync(raw, { maxOutputLength: Math.max(1, e.size) });
      } catch (err) {
        throw bad(this.file, `ZIP entry "${name}" does not inflate (${(err as Error).message}).`);
      }
    } else {
      throw new PeftStudioError('UNSUPPORTED', `${this.file}: ZIP entry "${name}" uses compression method ${e.method}; only stored and deflate are supported.`, this.file);
    }
    if (data.length !== e.size) throw bad(this.file, `ZIP entry "${name}" is ${data.length} bytes, the directory says ${e.size}.`);
    if (zlib.crc32(data) !== e.crc32) throw bad(this.file, `ZIP entry "${name}" fails its CRC check; the file is corrupt (re-download it).`);
    return data;
  }
}
