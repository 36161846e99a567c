/**
 * `resolveModel("google/bert_uncased_L-2_H-128_A-2")` → a local model folder, like huggingface_hub's
 * `snapshot_download`, but fetching only what PEFT Studio reads: config.json, the tokenizer files, and one
 * set of weights. A local folder is returned untouched; an id is looked up in the cache, then on the Hub.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PeftStudioError } from '../errors';
import { cachedSnapshot, isCompleteSnapshot, snapshotDir, writeRef } from './cache';
import { downloadFile } from './download';
import { CONFIG, TOKENIZER_FILES, WEIGHT_CHOICES, isIndex, isPlainFileName, shardsOf } from './files';
import { HubNetworkError, LOCAL_HINT, hubGet, httpError, type HubContext } from './http';
import { hubSettings, type HubSettings, type ResolveOptions } from './options';

const COMMIT = /^[0-9a-f]{40}$/;

/** What the Hub's API says about a revision; undefined `files` = no listing, probe the known names. */
interface Listing {
  sha?: string;
  files?: Set<string>;
}

export async function resolveModel(idOrPath: string, opts: ResolveOptions = {}): Promise<string> {
  const stat = statOrUndefined(idOrPath);
  if (stat?.isDirectory()) return idOrPath;
  if (stat) throw new PeftStudioError('MISSING_FILE', `${idOrPath} is a file, not a model folder (config.json + weights) or a Hub model id.`, idOrPath);
  if (looksLikePath(idOrPath)) throw new PeftStudioError('MISSING_FILE', `Model folder ${idOrPath} does not exist.`, idOrPath);
  const repo = checkRepoId(idOrPath);
  const s = hubSettings(opts);
  checkRevision(s.revision);

  if (s.offline) {
    return cachedSnapshot(s.cacheDir, repo, s.revision) ?? notCached(repo, s, 'offline mode is on (HF_HUB_OFFLINE or offline: true)', 'MISSING_FILE');
  }
  // A commit never changes: once its snapshot is complete there is nothing to ask the Hub.
  if (COMMIT.test(s.revision) && isCompleteSnapshot(snapshotDir(s.cacheDir, repo, s.revision))) return snapshotDir(s.cacheDir, repo, s.revision);

  let listing: Listing;
  try {
    listing = await fetchListing(repo, s);
  } catch (err) {
    if (!(err instanceof HubNetworkError)) throw err;
    return cachedSnapshot(s.cacheDir, repo, s.revision) ?? notCached(repo, s, `${s.endpoint} cannot be reached (${err.reason})`, 'IO');
  }
  // Downloads go by commit when we know it, so a push to the branch mid-download cannot mix two versions.
  const commit = listing.sha ?? s.revision;
  const dir = snapshotDir(s.cacheDir, repo, commit);
  if (!isCompleteSnapshot(dir)) await downloadSnapshot(repo, commit, dir, listing.files, s);
  // The ref is written only for a complete snapshot, so offline use of a branch never finds half a model.
  if (listing.sha && listing.sha !== s.revision) writeRef(s.cacheDir, repo, s.revision, listing.sha);
  return dir;
}

function statOrUndefined(p: string): fs.Stats | undefined {
  try {
    return fs.statSync(p);
  } catch {
    return undefined;
  }
}

/** `./x`, `/x`, `~/x`, `C:\x`, `a/b/c`: meant as a folder, so a typo must not turn into a Hub request. */
function looksLikePath(s: string): boolean {
  return /^[.~/\\]/.test(s) || /^[A-Za-z]:/.test(s) || s.includes('\\') || s.split('/').length > 2 || path.isAbsolute(s);
}

/** The Hub's own rules, loosely: `name` or `org/name`, word characters, dots and dashes; no `--` or `..`. */
function checkRepoId(id: string): string {
  const part = /^[A-Za-z0-9](?:[\w.-]{0,94}[A-Za-z0-9])?$/;
  const parts = id.split('/');
  if (parts.every((p) => part.test(p)) && !id.includes('--') && !id.includes('..')) return id;
  throw new PeftStudioError('BAD_INPUT', `"${id}" is neither an existing model folder nor a Hub model id (org/name, e.g. google/bert_uncased_L-2_H-128_A-2).`);
}

/** Revisions become URL and folder names: refuse the ones that could climb out of the cache. */
function checkRevision(rev: string): void {
  if (rev.split('/').some((seg) => seg === '' || seg === '.' || seg === '..') || rev.includes('\\')) {
    throw new PeftStudioError('BAD_INPUT', `"${rev}" is not a valid revision (a branch, tag or commit, e.g. main).`);
  }
}

function notCached(repo: string, s: HubSettings, why: string, code: 'MISSING_FILE' | 'IO'): never {
  const online = code === 'MISSING_FILE' ? 'go online and run again (unset HF_HUB_OFFLINE)' : 'check the network connection and run again';
  throw new PeftStudioError(
    code,
    `${repo} (revision ${s.revision}) is not in the local cache ${s.cacheDir}, and ${why}. To fix it: ${LOCAL_HINT}; ` +
      `or ${online}; or set HF_ENDPOINT to a Hub mirror you can reach (e.g. https://hf-mirror.com).`,
  );
}

/**
 * The file list and commit of a revision. A mirror or proxy without the API (a plain 404, 405, 5xx or
 * non-JSON answer) is no failure: we then probe the known file names. Only a verdict from the Hub itself
 * (refused, or X-Error-Code: RepoNotFound / RevisionNotFound) ends here.
 */
async function fetchListing(repo: string, s: HubSettings): Promise<Listing> {
  const ctx: HubContext = { repo, revision: s.revision, endpoint: s.endpoint, tokenSent: Boolean(s.token) };
  const { res } = await hubGet(s.fetch, `${s.endpoint}/api/models/${repo}/revision/${encodeURIComponent(s.revision)}`, s.token);
  const hubVerdict = ['RepoNotFound', 'RevisionNotFound'].includes(res.headers.get('x-error-code') ?? '');
  if (res.status === 401 || res.status === 403 || hubVerdict) {
    await res.body?.cancel().catch(() => undefined);
    throw httpError(res, ctx);
  }
  if (!res.ok) {
    await res.body?.cancel().catch(() => undefined);
    return {};
  }
  try {
    const info = (await res.json()) as { sha?: unknown; siblings?: Array<{ rfilename?: unknown }> };
    const sha = typeof info.sha === 'string' && COMMIT.test(info.sha) ? info.sha : undefined;
    const files = Array.isArray(info.siblings)
      ? new Set(info.siblings.map((f) => f?.rfilename).filter((f): f is string => typeof f === 'string'))
      : undefined;
    return { sha, files };
  } catch {
    return {};
  }
}

/** Small files first and weights last: see isCompleteSnapshot for why the order matters. */
async function downloadSnapshot(repo: string, commit: string, dir: string, files: Set<string> | undefined, s: HubSettings): Promise<void> {
  const listed = (f: string) => !files || files.has(f);
  const get = (file: string, optional: boolean) => {
    if (!isPlainFileName(file)) throw new PeftStudioError('BAD_WEIGHTS', `${repo}: refusing to download "${file}", which is not a plain file name.`);
    return downloadFile({
      url: `${s.endpoint}/${repo}/resolve/${encodeURIComponent(commit)}/${encodeURIComponent(file)}`,
      dest: path.join(dir, file),
      ctx: { repo, revision: s.revision, endpoint: s.endpoint, file, tokenSent: Boolean(s.token) },
      fetch: s.fetch,
      token: s.token,
      onProgress: s.onProgress,
      optional,
    });
  };
  const has = files ? `it has: ${[...files].sort().slice(0, 30).join(', ') || 'no files'}` : '';

  if (!listed(CONFIG)) {
    throw new PeftStudioError('MISSING_FILE', `${repo} has no config.json, so it is not a transformers model PEFT Studio can load; ${has}.`);
  }
  await get(CONFIG, false);
  for (const f of TOKENIZER_FILES) if (listed(f)) await get(f, !files);
  for (const w of WEIGHT_CHOICES) {
    if (!listed(w) || (await get(w, !files)) === 'absent') continue;
    if (isIndex(w)) for (const shard of shardsOf(path.join(dir, w))) await get(shard, false);
    return;
  }
  const found = files ? has : 'none of them is on the server';
  throw new PeftStudioError(
    'MISSING_FILE',
    `${repo} has no weights PEFT Studio reads (${WEIGHT_CHOICES.join(', ')}); ${found}. ` +
      `A TF- or Flax-only model must first be converted with transformers (save_pretrained(..., safe_serialization=True)); or ${LOCAL_HINT}.`,
  );
}
