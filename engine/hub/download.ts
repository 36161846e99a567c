/**
 * One file from the Hub into the cache, the way huggingface_hub's `http_get` does it: bytes go to
 * `{file}.incomplete` and become `{file}` only by a rename once all of them arrived and (for LFS files) their
 * sha256 matched — so a file under its final name is always whole, and "is it there" is the whole cache check.
 * An interrupted download keeps its `.incomplete`; the next attempt (in this call or a later run) asks for
 * the rest with `Range: bytes=N-`.
 */
import { createHash, type Hash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PeftStudioError } from '../errors';
import { ioError } from '../io/atomic';
import { HubHttpError, describeFailure, hubGet, httpError, isSha256, type HubContext } from './http';
import type { HubProgress } from './options';

export interface DownloadRequest {
  url: string;
  dest: string;
  ctx: HubContext;
  fetch: typeof fetch;
  token?: string;
  onProgress?: (p: HubProgress) => void;
  /** A 404 means "the repo has no such file" (probing without a listing), not an error. */
  optional?: boolean;
  /** Further attempts after a dropped connection or a 5xx; each resumes where the last one stopped. */
  retries?: number;
}

export type DownloadResult = 'downloaded' | 'cached' | 'absent';

/** The connection broke or the body came up short: what arrived is kept, and another attempt resumes. */
class Interrupted extends Error {}

const RETRY_DELAY_MS = 250;

export async function downloadFile(req: DownloadRequest): Promise<DownloadResult> {
  if (fs.existsSync(req.dest)) return 'cached';
  try {
    fs.mkdirSync(path.dirname(req.dest), { recursive: true });
  } catch (err) {
    throw ioError(path.dirname(req.dest), err, 'create');
  }
  const retries = req.retries ?? 3;
  for (let attempt = 0; ; attempt++) {
    try {
      return await attemptDownload(req);
    } catch (err) {
      const retryable = err instanceof Interrupted || (err instanceof HubHttpError && err.transient);
      if (!retryable || attempt >= retries) {
        if (err instanceof Interrupted) {
          throw new PeftStudioError('IO', `Download of ${req.ctx.file} from ${req.ctx.endpoint} was interrupted ${attempt + 1} time(s), last: ${err.message}. What arrived is kept in ${req.dest}.incomplete: run again to resume.`, req.dest);
        }
        throw err;
      }
      await new Promise((r) => setTimeout(r, RETRY_DELAY_MS * (attempt + 1)));
    }
  }
}

function sizeOf(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

/** A resumed download is verified over all its bytes, so the part already on disk is hashed first. */
async function hashPrefix(file: string, hash: Hash): Promise<void> {
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
}

async function attemptDownload(req: DownloadRequest): Promise<DownloadResult> {
  const part = `${req.dest}.incomplete`;
  let start = sizeOf(part);
  const { res, etag } = await hubGet(req.fetch, req.url, req.token, start > 0 ? { range: `bytes=${start}-` } : {});
  const drop = () => res.body?.cancel().catch(() => undefined);

  if (res.status === 404 && req.optional) {
    await drop();
    return 'absent';
  }
  if (res.status === 416 && start > 0) {
    // Our partial file is no prefix of what the server has (the file changed, or it is already whole but
    // was never verified): start over.
    await drop();
    fs.rmSync(part, { force: true });
    throw new Interrupted('the server refused to resume; starting over');
  }
  if (!res.ok) {
    await drop();
    throw httpError(res, req.ctx);
  }

  let total: number | undefined;
  let append = false;
  if (res.status === 206) {
    const m = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(res.headers.get('content-range') ?? '');
    if (!m || Number(m[1]) !== start) {
      await drop();
      fs.rmSync(part, { force: true });
      throw new Interrupted(`the server resumed at the wrong place (${res.headers.get('content-range')}); starting over`);
    }
    total = m[2] === '*' ? undefined : Number(m[2]);
    append = true;
  } else {
    // 200 to a Range request: the server (or a proxy) ignores ranges and sends everything, so restart.
    start = 0;
    const len = res.headers.get('content-length');
    total = len === null ? undefined : Number(len);
  }

  const hash = isSha256(etag) ? createHash('sha256') : undefined;
  if (hash && append) await hashPrefix(part, hash);

  let handle: fs.promises.FileHandle;
  try {
    handle = await fs.promises.open(part, append ? 'a' : 'w');
  } catch (err) {
    await drop();
    throw ioError(part, err, 'write');
  }
  let bytes = start;
  req.onProgress?.({ file: req.ctx.file!, bytes, total });
  const reader = res.body?.getReader();
  let ended = !reader;
  try {
    while (reader) {
      const chunk = await reader.read().catch((err: unknown) => {
        throw new Interrupted(describeFailure(err));
      });
      if (chunk.done) {
        ended = true;
        break;
      }
      await writeAll(handle, chunk.value, part);
      hash?.update(chunk.value);
      bytes += chunk.value.length;
      req.onProgress?.({ file: req.ctx.file!, bytes, total });
    }
    await handle.sync().catch((err: unknown) => {
      throw ioError(part, err, 'write');
    });
  } finally {
    await handle.close().catch(() => undefined);
    // Failed while writing (disk full…): hang up rather than leave the server streaming into the void.
    if (!ended) await reader?.cancel().catch(() => undefined);
  }
  if (total !== undefined && bytes !== total) throw new Interrupted(`got ${bytes} of ${total} bytes`);

  if (hash) {
    const actual = hash.digest('hex');
    if (actual !== etag!.toLowerCase()) {
      fs.rmSync(part, { force: true });
      throw new PeftStudioError(
        'IO',
        `Checksum mismatch for ${req.ctx.file} of ${req.ctx.repo}: the Hub says sha256 ${etag}, the ${bytes} bytes received hash to ${actual}. ` +
          'The download was deleted; run again (if it repeats, a proxy or mirror is altering the file).',
        req.dest,
      );
    }
  }
  try {
    fs.renameSync(part, req.dest);
  } catch (err) {
    throw ioError(req.dest, err, 'write');
  }
  // A last report with bytes === total tells a progress view that this file is done.
  req.onProgress?.({ file: req.ctx.file!, bytes, total: bytes });
  return 'downloaded';
}

async function writeAll(handle: fs.promises.FileHandle, data: Uint8Array, file: string): Promise<void> {
  try {
    let done = 0;
    while (done < data.length) done += (await handle.write(data, done, data.length - done)).bytesWritten;
  } catch (err) {
    throw ioError(file, err, 'write');
  }
}
