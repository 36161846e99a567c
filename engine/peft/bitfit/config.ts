/**
 * Which parameters BitFit trains. The BitFit paper (Ben Zaken et al., 2022) trains every bias term plus the
 * new classifier; its sparse variant trains only the query and the intermediate (m2) biases. Groups are
 * named after the bias kinds of model/biases.ts, and free-form patterns match HF parameter names, so a user
 * can always see why a parameter was picked.
 */
import { PeftStudioError } from '../../errors';
import { classifyBias, type BiasKind } from '../../model/biases';
import { globToRegExp, isHeadParam } from '../names';

/** Named bias groups a user can combine. `all` and `sparse` are the paper's two settings. */
export const BIAS_GROUPS: Record<string, BiasKind[]> = {
  all: ['embeddings.LayerNorm', 'query', 'key', 'value', 'attention.output', 'attention.LayerNorm', 'intermediate', 'output', 'output.LayerNorm', 'pooler'],
  sparse: ['query', 'intermediate'],
  query: ['query'],
  key: ['key'],
  value: ['value'],
  'attention-output': ['attention.output'],
  intermediate: ['intermediate'],
  output: ['output'],
  layernorm: ['embeddings.LayerNorm', 'attention.LayerNorm', 'output.LayerNorm'],
  pooler: ['pooler'],
};
/** The paper's short names for the same groups (q, k, v, m1 … as in its tables). */
const ALIASES: Record<string, string> = { q: 'query', k: 'key', v: 'value', m2: 'intermediate', 'q+m2': 'sparse', ln: 'layernorm' };

export interface BitFitConfig {
  /** Group names (`all`, `sparse`, `query`, …), globs on HF names (`*.layer.1*.bias`) or `/regex/`. Default `['all']`. */
  biasTerms: string[];
  /** Train the task head (classifier and, for RoBERTa/DistilBERT, its dense layer) as the paper does. Default true. */
  trainHead: boolean;
}

export const DEFAULT_BITFIT: BitFitConfig = { biasTerms: ['all'], trainHead: true };

export interface Selection {
  trainable: string[];
  /** For each trainable parameter, the term that selected it (`group query`, `pattern /…/`, `task head`). */
  why: Record<string, string>;
}

export { globToRegExp, isHeadParam } from '../names';

export function selectBitFit(paramNames: string[], config: BitFitConfig): Selection {
  const matchers = config.biasTerms.map(termMatcher);
  const why: Record<string, string> = {};
  for (const name of paramNames) {
    if (config.trainHead && isHeadParam(name)) {
      why[name] = 'task head';
      continue;
    }
    for (const m of matchers) {
      if (m.test(name)) {
        why[name] = m.label;
        break;
      }
    }
  }
  for (const m of matchers) {
    if (!paramNames.some((n) => m.test(n))) {
      throw new PeftStudioError('BAD_INPUT', `bias term ${m.label} matches no parameter of this model`);
    }
  }
  return { trainable: paramNames.filter((n) => n in why), why };
}

interface Matcher {
  label: string;
  test(name: string): boolean;
}

function termMatcher(raw: string): Matcher {
  const term = ALIASES[raw] ?? raw;
  const group = BIAS_GROUPS[term];
  if (group) {
    return { label: `group "${term}"`, test: (n) => group.includes(classifyBias(n)?.kind as BiasKind) };
  }
  if (term.length > 2 && term.startsWith('/') && term.lastIndexOf('/') > 0) {
    const end = term.lastIndexOf('/');
    let re: RegExp;
    try {
      re = new RegExp(term.slice(1, end), term.slice(end + 1));
    } catch (e) {
      throw new PeftStudioError('BAD_INPUT', `bias term ${raw} is not a valid regular expression: ${(e as Error).message}`);
    }
    return { label: `pattern ${term}`, test: (n) => re.test(n) };
  }
  if (/[*?]/.test(term) || term.includes('.')) {
    const re = globToRegExp(term);
    return { label: `glob "${term}"`, test: (n) => re.test(n) };
  }
  throw new PeftStudioError(
    'BAD_INPUT',
    `unknown bias term "${raw}" — use a group (${Object.keys(BIAS_GROUPS).join(', ')}), a glob on parameter names, or /regex/`,
  );
}
