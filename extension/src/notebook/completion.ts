/**
 * Completion in notebook cells, as pure logic: at the start of a line, the run-config keys not yet used
 * (with their schema descriptions), plus `extends: previous`, `compare: all` and (on a cell's first line) a
 * `study:` snippet; after `key: `, that key's
 * enum values or true/false (after `method: `, the method names). A method's own setting keys (`lora_r`,
 * `bias_terms`) are offered once the cell's method is known: its own `method:` line or an inherited one.
 */
import { COMPARE_KEY, EXTENDS_KEY, EXTENDS_PREVIOUS, STUDY_KEY } from './cells';
import { methodInfo } from '../../../protocol/method';
import { configKeys } from './schema';

export interface Suggestion {
  label: string;
  insertText: string;
  detail?: string;
  documentation?: string;
  kind: 'key' | 'value';
  /** insertText is a snippet (tab stops `${1:…}`). */
  snippet?: boolean;
}

/** A study cell to fill in: methods × seeds over a base run config (the study file's format). */
export const STUDY_SNIPPET = [
  `${STUDY_KEY}:`,
  '  name: ${1:methods}',
  '  base:',
  '    model: ${2:path/to/model}',
  '    train_file: ${3:train.tsv}',
  '    max_steps: ${4:200}',
  '  axes:',
  '    method: [${5:full, bitfit, lora}]',
  '    seed: [${6:0, 1, 2}]',
  '$0',
].join('\n');

/**
 * `method`: the cell's method name (its own or inherited), or undefined when it sets none yet: then only
 * the general keys and `method` itself are offered.
 */
export function suggestionsAt(linePrefix: string, usedKeys: ReadonlySet<string>, isFirstContentLine: boolean, method?: string): Suggestion[] {
  // Only top-level keys exist in a run config: an indented line or a comment gets nothing.
  if (/^\s+\S|^\s*#/.test(linePrefix)) return [];
  const valueMatch = /^([A-Za-z_$][\w$]*)\s*:\s*(\S*)$/.exec(linePrefix);
  if (valueMatch) {
    const key = valueMatch[1]!;
    if (key === EXTENDS_KEY) return [{ label: EXTENDS_PREVIOUS, insertText: EXTENDS_PREVIOUS, kind: 'value', detail: 'inherit from the nearest run cell above' }];
    if (key === COMPARE_KEY) return [{ label: 'all', insertText: 'all', kind: 'value', detail: 'every cell with a run' }];
    const k = configKeys().find((c) => c.key === key);
    return (k?.values ?? []).map((v) => ({
      label: v,
      insertText: v,
      kind: 'value',
      detail: k?.default !== undefined && String(k.default) === v ? 'default' : key === 'method' ? methodInfo(v)?.title : undefined,
      documentation: key === 'method' ? methodInfo(v)?.description : undefined,
    }));
  }
  if (!/^[\w$]*$/.test(linePrefix)) return [];
  const out: Suggestion[] = [];
  if (isFirstContentLine && !usedKeys.has(EXTENDS_KEY)) {
    out.push({ label: EXTENDS_KEY, insertText: `${EXTENDS_KEY}: ${EXTENDS_PREVIOUS}`, kind: 'key', detail: 'extends: previous', documentation: 'Start from the nearest run cell above; the keys below override it.' });
  }
  if (isFirstContentLine && usedKeys.size === 0) {
    out.push({ label: STUDY_KEY, insertText: STUDY_SNIPPET, snippet: true, kind: 'key', detail: 'a method study: methods × seeds, one report', documentation: 'Runs every combination of the axes as an ordinary run (into a study folder of the runs folder) and shows the report: the per-method table, metric vs trainable parameters, the what-moved grids. Re-running the cell resumes it.' });
  }
  for (const k of configKeys(method ?? null)) {
    if (usedKeys.has(k.key)) continue;
    const def = k.default === undefined ? '' : ` (default ${JSON.stringify(k.default)})`;
    const owner = k.methods ? `${k.methods.map((m) => methodInfo(m)?.title ?? m).join(', ')} setting` : 'run config';
    out.push({ label: k.key, insertText: `${k.key}: `, kind: 'key', detail: `${owner}${def}`, documentation: k.description });
  }
  return out;
}
