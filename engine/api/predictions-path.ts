/** Where batch predictions go, kept free of TF.js so the extension host can name the file before the worker runs. */
import * as path from 'node:path';

/** `reviews.tsv` → `reviews.predictions.csv` in the same folder (the input itself is never replaced). */
export function predictionsPath(input: string): string {
  const ext = path.extname(input);
  return path.join(path.dirname(input), `${path.basename(input, ext)}.predictions.csv`);
}
