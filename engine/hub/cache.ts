/**
 * The cache layout of huggingface_hub, so the folders look familiar and a `du` tells the same story:
 *   {cacheDir}/models--{org}--{name}/snapshots/{sha}/{file}   the files, one folder per commit
 *   {cacheDir}/models--{org}--{name}/refs/{revision}          the commit a branch or tag pointed to
 * Unlike huggingface_hub we store files in the snapshot folder itself (no blobs/ + symlinks): symlinks need
 * privileges on Windows, and BERT-sized repos gain little from de-duplication across commits.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../io/atomic';
import { CONFIG, WEIGHT_CHOICES, isIndex, shardsOf } from './files';

export const repoFolder = (cacheDir: string, repo: string) => path.join(cacheDir, `models--${repo.split('/').join('--')}`);

/**
 * A revision name may hold slashes (`refs/pr/1`); as a folder name it must be one path segment, and never
 * `.` or `..` (encodeURIComponent leaves dots alone).
 */
export const snapshotName = (revisionOrSha: string) => encodeURIComponent(revisionOrSha).replace(/^\.{1,2}$/, (m) => '%2E'.repeat(m.length));

export const snapshotDir = (cacheDir: string, repo: string, revisionOrSha: string) =>
  path.join(repoFolder(cacheDir, repo), 'snapshots', snapshotName(revisionOrSha));

const refFile = (cacheDir: string, repo: string, revision: string) => path.join(repoFolder(cacheDir, repo), 'refs', snapshotName(revision));

export function readRef(cacheDir: string, repo: string, revision: string): string | undefined {
  try {
    const sha = fs.readFileSync(refFile(cacheDir, repo, revision), 'utf8').trim();
    return sha || undefined;
  } catch {
    return undefined;
  }
}

export function writeRef(cacheDir: string, repo: string, revision: string, sha: string): void {
  const file = refFile(cacheDir, repo, revision);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  writeFileAtomic(file, sha);
}

/**
 * Complete = config.json and a whole set of weights. Weights are downloaded last (after the small tokenizer
 * files), so their presence also means everything before them arrived; every file appears only by an
 * atomic rename after its checksum passed, so presence means whole.
 */
export function isCompleteSnapshot(dir: string): boolean {
  const has = (f: string) => fs.existsSync(path.join(dir, f));
  if (!has(CONFIG)) return false;
  const weights = WEIGHT_CHOICES.find(has);
  if (!weights) return false;
  if (!isIndex(weights)) return true;
  try {
    return shardsOf(path.join(dir, weights)).every(has);
  } catch {
    return false;
  }
}

/** The complete snapshot for `revision`: through its ref (a branch), else a folder of that name (a sha). */
export function cachedSnapshot(cacheDir: string, repo: string, revision: string): string | undefined {
  const candidates = [readRef(cacheDir, repo, revision), revision].filter((r): r is string => Boolean(r));
  for (const r of candidates) {
    const dir = snapshotDir(cacheDir, repo, r);
    if (isCompleteSnapshot(dir)) return dir;
  }
  return undefined;
}
