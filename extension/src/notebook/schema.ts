/**
 * Run-config checks for notebook cells, driven by schemas/run-config.schema.json (the file VS Code already
 * uses for *.peft.json). The engine's resolveRunConfig cannot be imported here: engine/train/config.ts
 * pulls in backend/select.ts and with it TF.js, which must stay out of the extension host bundle. Reading
 * the JSON schema keeps one statement of the rules instead of a hand-written copy; the worker still runs
 * resolveRunConfig and reports anything this misses as a failed run.
 *
 * Only the schema features the file uses are interpreted: type, enum, const, oneOf/anyOf of those,
 * minimum/maximum (exclusive or not), minItems, items.type, required, additionalProperties: false.
 */
import schemaJson from '../../../schemas/run-config.schema.json';

interface PropSchema {
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  oneOf?: PropSchema[];
  anyOf?: PropSchema[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minItems?: number;
  items?: { type?: string };
  default?: unknown;
  description?: string;
}

const schema = schemaJson as unknown as { required: string[]; properties: Record<string, PropSchema> };

/** Keys a notebook cell may not set: the host owns where a run goes. */
export const HOST_KEYS = new Set(['output_dir', '$schema']);

export interface ConfigIssue {
  /** Top-level key the issue is about; undefined for the config as a whole. */
  key?: string;
  message: string;
}

export function configKeys(): Array<{ key: string; description: string; values: string[]; default?: unknown }> {
  return Object.entries(schema.properties)
    .filter(([k]) => !HOST_KEYS.has(k))
    .map(([key, p]) => ({ key, description: p.description ?? '', values: valuesOf(p), default: p.default }));
}

/** Suggested values for a key: its enum, or true/false for booleans. */
function valuesOf(p: PropSchema): string[] {
  if (p.enum) return p.enum.map(String);
  if (p.const !== undefined) return [String(p.const)];
  const branches = p.oneOf ?? p.anyOf;
  if (branches) return branches.flatMap(valuesOf);
  if (p.type === 'boolean') return ['true', 'false'];
  return [];
}

export function describeKey(key: string): PropSchema | undefined {
  return schema.properties[key];
}

/** Fills schema defaults in (for comparisons: an absent learning_rate and an explicit 1e-3 are the same run). */
export function withDefaults(config: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, p] of Object.entries(schema.properties)) if (p.default !== undefined && !HOST_KEYS.has(k)) out[k] = p.default;
  return { ...out, ...config };
}

/** True when `value` equals the key's schema default (re-run cells leave those out to stay short). */
export function isDefault(key: string, value: unknown): boolean {
  const d = schema.properties[key]?.default;
  return d !== undefined && JSON.stringify(d) === JSON.stringify(value);
}

export function validateConfig(config: Record<string, unknown>): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  for (const key of schema.required) if (config[key] === undefined) issues.push({ message: `"${key}" is required (set it here or in a cell this one extends)` });
  for (const [key, value] of Object.entries(config)) {
    if (HOST_KEYS.has(key)) {
      issues.push({ key, message: `${key} is set by PEFT Studio for notebook runs` });
      continue;
    }
    const p = schema.properties[key];
    if (!p) {
      const near = nearest(key, Object.keys(schema.properties));
      issues.push({ key, message: `unknown setting "${key}"${near ? ` (did you mean "${near}"?)` : ''}` });
      continue;
    }
    const problem = checkValue(p, value);
    if (problem) issues.push({ key, message: `${key} ${problem}` });
  }
  return issues;
}

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function checkValue(p: PropSchema, v: unknown): string | undefined {
  const branches = p.oneOf ?? p.anyOf;
  if (branches) {
    // One branch accepting the value is enough (the file's unions do not overlap, so oneOf = anyOf here).
    const problems = branches.map((b) => checkValue(b, v));
    return problems.includes(undefined) ? undefined : `must be ${branches.map(describeBranch).join(' or ')}, got ${JSON.stringify(v)}`;
  }
  if (p.const !== undefined && v !== p.const) return `must be ${JSON.stringify(p.const)}, got ${JSON.stringify(v)}`;
  if (p.enum && !p.enum.some((e) => e === v)) return `must be one of ${p.enum.map((e) => JSON.stringify(e)).join(', ')}, got ${JSON.stringify(v)}`;
  if (p.type) {
    const allowed = Array.isArray(p.type) ? p.type : [p.type];
    const t = typeOf(v);
    const ok = allowed.includes(t) || (t === 'integer' && allowed.includes('number'));
    if (!ok) return `must be ${allowed.join(' or ')}, got ${t === 'integer' ? 'number' : t} ${JSON.stringify(v)}`;
  }
  if (typeof v === 'number') {
    if (p.minimum !== undefined && v < p.minimum) return `must be ≥ ${p.minimum}, got ${v}`;
    if (p.exclusiveMinimum !== undefined && v <= p.exclusiveMinimum) return `must be > ${p.exclusiveMinimum}, got ${v}`;
    if (p.maximum !== undefined && v > p.maximum) return `must be ≤ ${p.maximum}, got ${v}`;
    if (p.exclusiveMaximum !== undefined && v >= p.exclusiveMaximum) return `must be < ${p.exclusiveMaximum}, got ${v}`;
  }
  if (Array.isArray(v)) {
    if (p.minItems !== undefined && v.length < p.minItems) return `needs at least ${p.minItems} item(s)`;
    if (p.items?.type && v.some((x) => typeOf(x) !== p.items!.type)) return `items must be ${p.items.type}s`;
  }
  return undefined;
}

function describeBranch(b: PropSchema): string {
  if (b.const !== undefined) return JSON.stringify(b.const);
  if (b.enum) return `one of ${b.enum.map((e) => JSON.stringify(e)).join(', ')}`;
  const t = Array.isArray(b.type) ? b.type.join(' or ') : (b.type ?? 'a value');
  return b.minimum !== undefined ? `${t} ≥ ${b.minimum}` : t;
}

/** The closest known key within edit distance 3, for typo hints. */
function nearest(key: string, known: string[]): string | undefined {
  let best: string | undefined;
  let bestD = 4;
  for (const k of known) {
    const d = editDistance(key, k);
    if (d < bestD) [best, bestD] = [k, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}
