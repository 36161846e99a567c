/** `--model` takes a local folder or a HuggingFace Hub id; ids are downloaded into the cache with a progress bar. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PeftStudioError } from '../errors';
import { DownloadProgress, resolveModel } from '../hub';

export async function resolveModelArg(arg: string, opts: { demo?: boolean } = {}): Promise<string> {
  if (fs.existsSync(arg)) return path.resolve(arg);
  const view = new DownloadProgress();
  try {
    return await resolveModel(arg, { onProgress: view.onProgress });
  } catch (e) {
    if (opts.demo && e instanceof PeftStudioError) {
      throw new PeftStudioError(e.code, `${e.message}\nThe demo needs a model: pass a local HuggingFace model folder, e.g.\n  npx peft-studio demo --model ../shared/models/bert-mlm-tiny`);
    }
    throw e;
  } finally {
    view.close();
  }
}
