/**
 * Which files make a model folder, in the order the weights loader (engine/io/weights.ts) prefers them,
 * and the shard list of an index. Kept apart so the downloader and the cache check agree on one table.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PeftStudioError } from '../errors';

export const CONFIG = 'config.json';

/** Small, optional; whichever the repo has (engine/tokenizer/load.ts reads them). */
export const TOKENIZER_FILES = [
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'vocab.txt',
  'vocab.json',
  'merges.txt',
  'added_tokens.json',
];

/** First one the repo has wins, like `from_pretrained`; an index brings its shards along. */
export const WEIGHT_CHOICES = ['model.safetensors', 'model.safetensors.index.json', 'pytorch_model.bin', 'pytorch_model.bin.index.json'];

export const isIndex = (name: string) => name.endsWith('.index.json');

/**
 * The shard files an HF index names. The index comes from the network, so a shard must be a plain file
 * name: anything with a directory part could make us write outside the snapshot folder.
 */
export function shardsOf(indexFile: string): string[] {
  let map: unknown;
  try {
    map = (JSON.parse(fs.readFileSync(indexFile, 'utf8')) as { weight_map?: unknown } | null)?.weight_map;
  } catch (err) {
    throw new PeftStudioError('BAD_WEIGHTS', `${indexFile}: not valid JSON (${(err as Error).message}).`, indexFile);
  }
  if (typeof map !== 'object' || map === null || Array.isArray(map)) {
    throw new PeftStudioError('BAD_WEIGHTS', `${indexFile}: missing the "weight_map" object of tensor name → shard file.`, indexFile);
  }
  const shards = new Set<string>();
  for (const [name, shard] of Object.entries(map)) {
    if (typeof shard !== 'string' || !isPlainFileName(shard)) {
      throw new PeftStudioError('BAD_WEIGHTS', `${indexFile}: tensor "${name}" maps to ${JSON.stringify(shard)}, which is not a plain file name.`, indexFile);
    }
    shards.add(shard);
  }
  if (shards.size === 0) throw new PeftStudioError('BAD_WEIGHTS', `${indexFile}: "weight_map" is empty.`, indexFile);
  return [...shards];
}

export function isPlainFileName(name: string): boolean {
  return name !== '' && name !== '.' && name !== '..' && name === path.basename(name) && !name.includes('\\');
}
