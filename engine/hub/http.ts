/**
 * One GET against the Hub, and the Hub's HTTP failures turned into errors that say what to do.
 *
 * Redirects are followed here, hop by hop, rather than by fetch: the Hub answers a large (LFS) file with a
 * 302 to a CDN, and only that 302 carries `X-Linked-Etag` (the file's sha256) — fetch's automatic following
 * would hide it. Following ourselves also lets us drop the token when a hop leaves the Hub's origin: the CDN
 * URL is pre-signed, and a stray Authorization header there is a leak at best and a 400 at worst.
 */
import { PeftStudioError } from '../errors';

const MAX_REDIRECTS = 10;

/** Where a request stood, for messages. */
export interface HubContext {
  repo: string;
  revision: string;
  endpoint: string;
  /** The file asked for; undefined for the API listing. */
  file?: string;
  tokenSent: boolean;
}

export interface HubReply {
  res: Response;
  /** X-Linked-Etag, else ETag, of the first hop that had one; quotes and W/ stripped. */
  etag?: string;
}

/** The network itself failed (DNS, refused, reset before any answer): the caller may fall back to the cache. */
export class HubNetworkError extends PeftStudioError {
  constructor(url: string, readonly reason: string) {
    super('IO', `Cannot reach ${new URL(url).origin}: ${reason}.`);
  }
}

/** The Hub answered with an error status. */
export class HubHttpError extends PeftStudioError {
  constructor(code: 'MISSING_FILE' | 'IO', message: string, readonly status: number) {
    super(code, message);
  }
  /** Worth another try: the server is busy or broken right now, not refusing us. */
  get transient(): boolean {
    return this.status === 429 || this.status >= 500;
  }
}

/** Why fetch failed, in one line: undici puts the useful part (ECONNREFUSED, ENOTFOUND…) in `cause`. */
export function describeFailure(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } } | undefined)?.cause;
  if (cause?.message) return cause.code && !cause.message.includes(cause.code) ? `${cause.message} (${cause.code})` : cause.message;
  return cause?.code ?? (err instanceof Error ? err.message : String(err));
}

export function normalizeEtag(raw: string): string {
  return raw.replace(/^W\//, '').replace(/^"|"$/g, '');
}

/** The Hub's etag of an LFS file is its sha256; a regular (git) file's is a sha1, which we cannot check cheaply. */
export const isSha256 = (etag: string | undefined): etag is string => etag !== undefined && /^[0-9a-f]{64}$/i.test(etag);

export async function hubGet(fetchImpl: typeof fetch, url: string, token: string | undefined, headers: Record<string, string> = {}): Promise<HubReply> {
  const origin = new URL(url).origin;
  let etag: string | undefined;
  for (let hop = 0; ; hop++) {
    const h = { ...headers };
    if (token && new URL(url).origin === origin) h.authorization = `Bearer ${token}`;
    let res: Response;
    try {
      res = await fetchImpl(url, { headers: h, redirect: 'manual' });
    } catch (err) {
      throw new HubNetworkError(url, describeFailure(err));
    }
    etag ??= res.headers.get('x-linked-etag') ?? res.headers.get('etag') ?? undefined;
    const location = res.headers.get('location');
    if (res.status < 300 || res.status >= 400 || !location) return { res, etag: etag === undefined ? undefined : normalizeEtag(etag) };
    await res.body?.cancel().catch(() => undefined); // frees the connection for the next hop
    if (hop >= MAX_REDIRECTS) throw new PeftStudioError('IO', `More than ${MAX_REDIRECTS} redirects fetching ${url}.`);
    url = new URL(location, url).href;
  }
}

export const LOCAL_HINT = 'pass a local model folder instead (e.g. --model ../shared/models/bert-mlm-tiny)';

/** The Hub's own diagnosis (X-Error-Code: RepoNotFound, RevisionNotFound, EntryNotFound, GatedRepo) sharpens the message. */
export function httpError(res: Response, ctx: HubContext): HubHttpError {
  const code = res.headers.get('x-error-code') ?? '';
  const what = ctx.file ? `${ctx.file} of ${ctx.repo}` : ctx.repo;
  const status = `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`;
  if (res.status === 401 || res.status === 403) {
    const tokenAdvice = ctx.tokenSent
      ? 'The token sent (HF_TOKEN) was not accepted for it: check that it is valid and has read access.'
      : 'If it is private or gated, set HF_TOKEN to an access token with read access (https://huggingface.co/settings/tokens).';
    const gated = code === 'GatedRepo' ? ' It is gated: accept its terms on the model page with the account whose token you use.' : '';
    const why = res.status === 401 ? 'it does not exist, or it is private or gated' : 'access is forbidden';
    return new HubHttpError('IO', `The Hub (${ctx.endpoint}) refused ${what} (${status}): ${why}.${gated} ${tokenAdvice} Or ${LOCAL_HINT}.`, res.status);
  }
  if (res.status === 404) {
    if (code === 'RevisionNotFound') {
      return new HubHttpError('MISSING_FILE', `${ctx.repo} has no revision "${ctx.revision}" on ${ctx.endpoint} (${status}): check --revision.`, res.status);
    }
    const id = `Check the id (org/name, e.g. google/bert_uncased_L-2_H-128_A-2)${ctx.revision !== 'main' ? ` and the revision "${ctx.revision}"` : ''}, or ${LOCAL_HINT}.`;
    if (code === 'RepoNotFound' || !ctx.file) return new HubHttpError('MISSING_FILE', `No such model on ${ctx.endpoint}: ${ctx.repo} (${status}). ${id}`, res.status);
    return new HubHttpError('MISSING_FILE', `No such model or file on ${ctx.endpoint}: ${what} at revision ${ctx.revision} (${status}). ${id}`, res.status);
  }
  const later = res.status === 429 || res.status >= 500 ? ' The Hub is busy or down: try again later, or set HF_ENDPOINT to a mirror.' : '';
  return new HubHttpError('IO', `The Hub (${ctx.endpoint}) answered ${status} for ${what}.${later}`, res.status);
}
