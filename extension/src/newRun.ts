/**
 * "PEFT: New Run": model folder → dataset → bias terms → key hyperparameters, remembering the last choices.
 * The result is a run config, saved as a `.peft.json` file in the workspace (so a run is reproducible and
 * diffable) and started.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Settings } from './settings';

const LAST = 'peftStudio.lastNewRun';

interface LastChoices {
  model?: string;
  trainFile?: string;
  evalFile?: string;
  biasTerms?: string[];
  trainHead?: boolean;
  learningRate?: number;
  epochs?: number;
  batchSize?: number;
  maxLength?: number;
}

const BIAS_ITEMS: Array<vscode.QuickPickItem & { term: string }> = [
  { term: 'all', label: 'all', description: 'every bias term (BitFit)' },
  { term: 'sparse', label: 'sparse', description: 'query + intermediate only (the paper\'s sparse variant)' },
  { term: 'query', label: 'query', description: 'attention query biases (q)' },
  { term: 'key', label: 'key', description: 'attention key biases (k)' },
  { term: 'value', label: 'value', description: 'attention value biases (v)' },
  { term: 'attention-output', label: 'attention-output', description: 'attention output dense biases' },
  { term: 'intermediate', label: 'intermediate', description: 'feed-forward intermediate biases (m2)' },
  { term: 'output', label: 'output', description: 'feed-forward output biases' },
  { term: 'layernorm', label: 'layernorm', description: 'LayerNorm betas' },
  { term: 'pooler', label: 'pooler', description: 'pooler bias' },
];

export async function newRunFlow(context: vscode.ExtensionContext, settings: Settings, exampleDir: string): Promise<Record<string, unknown> | undefined> {
  const last = context.globalState.get<LastChoices>(LAST) ?? {};
  const model = await pickModel(last.model);
  if (!model) return undefined;
  const trainFile = await pickFile('Training data (CSV, TSV, JSONL, Parquet)', last.trainFile, path.join(exampleDir, 'sentiment', 'train.tsv'));
  if (!trainFile) return undefined;
  const evalChoice = await vscode.window.showQuickPick(
    [
      { label: '$(split-horizontal) Hold out 10% of the training data', id: 'split' },
      { label: '$(file) Choose an evaluation file…', id: 'file' },
      ...(last.evalFile && fs.existsSync(last.evalFile) ? [{ label: `$(history) ${path.basename(last.evalFile)}`, description: last.evalFile, id: 'last' }] : []),
    ],
    { title: 'New PEFT run (3/5): evaluation data', ignoreFocusOut: true },
  );
  if (!evalChoice) return undefined;
  let evalFile: string | undefined;
  if (evalChoice.id === 'file') {
    evalFile = await pickFile('Evaluation data', undefined, undefined);
    if (!evalFile) return undefined;
  } else if (evalChoice.id === 'last') evalFile = last.evalFile;

  const previous = new Set(last.biasTerms ?? settings.defaults.biasTerms);
  const terms = await vscode.window.showQuickPick(
    BIAS_ITEMS.map((i) => ({ ...i, picked: previous.has(i.term) })),
    { title: 'New PEFT run (4/5): BitFit bias terms', canPickMany: true, ignoreFocusOut: true, placeHolder: 'Which biases train (the classifier head trains too unless you turn it off next)' },
  );
  if (!terms || !terms.length) return undefined;
  const head = await vscode.window.showQuickPick(
    [
      { label: 'Train the classifier head too', description: 'as in the BitFit paper', head: true },
      { label: 'Biases only', head: false },
    ],
    { title: 'New PEFT run (4/5): classifier head', ignoreFocusOut: true },
  );
  if (!head) return undefined;
  const lr = await askNumber('Learning rate', last.learningRate ?? settings.defaults.learningRate, 'BitFit works best with 1e-4 … 1e-3');
  if (lr === undefined) return undefined;
  const epochs = await askNumber('Epochs', last.epochs ?? settings.defaults.epochs);
  if (epochs === undefined) return undefined;
  const batchSize = await askNumber('Batch size', last.batchSize ?? settings.defaults.batchSize, undefined, true);
  if (batchSize === undefined) return undefined;
  const maxLength = await askNumber('Max length (tokens)', last.maxLength ?? settings.defaults.maxLength, undefined, true);
  if (maxLength === undefined) return undefined;

  const choices: LastChoices = { model, trainFile, evalFile, biasTerms: terms.map((t) => t.term), trainHead: head.head, learningRate: lr, epochs, batchSize, maxLength };
  await context.globalState.update(LAST, choices);
  const data = path.basename(trainFile).replace(/\.[^.]+$/, '');
  return {
    run_name: `${data} · ${choices.biasTerms!.join('+')}${choices.trainHead ? '' : ' (no head)'} · lr ${lr}`,
    model,
    train_file: trainFile,
    ...(evalFile ? { eval_file: evalFile } : {}),
    method: 'bitfit',
    bias_terms: choices.biasTerms,
    train_head: choices.trainHead,
    learning_rate: lr,
    num_train_epochs: epochs,
    per_device_train_batch_size: batchSize,
    max_length: maxLength,
  };
}

async function pickModel(last: string | undefined): Promise<string | undefined> {
  type Item = vscode.QuickPickItem & { id: string };
  const items: Item[] = [];
  if (last && fs.existsSync(path.join(last, 'config.json'))) items.push({ label: `$(history) ${path.basename(last)}`, description: last, id: last });
  for (const ws of vscode.workspace.workspaceFolders ?? []) {
    const found = await vscode.workspace.findFiles(new vscode.RelativePattern(ws, '**/config.json'), '**/{node_modules,.git,.peft-studio}/**', 20);
    for (const f of found) {
      const dir = path.dirname(f.fsPath);
      if (dir !== last && (fs.existsSync(path.join(dir, 'model.safetensors')) || fs.existsSync(path.join(dir, 'model.safetensors.index.json')) || fs.existsSync(path.join(dir, 'pytorch_model.bin')))) {
        items.push({ label: `$(folder) ${path.basename(dir)}`, description: vscode.workspace.asRelativePath(dir), id: dir });
      }
    }
  }
  items.push({ label: '$(folder-opened) Browse for a model folder…', id: 'browse' });
  const pick = await vscode.window.showQuickPick(items, { title: 'New PEFT run (1/5): model folder', placeHolder: 'An HF model folder: config.json, model.safetensors, vocab.txt or tokenizer.json', ignoreFocusOut: true });
  if (!pick) return undefined;
  if (pick.id !== 'browse') return pick.id;
  const uri = await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, openLabel: 'Use this model', title: 'HuggingFace model folder' });
  return uri?.[0]?.fsPath;
}

async function pickFile(title: string, last: string | undefined, example: string | undefined): Promise<string | undefined> {
  type Item = vscode.QuickPickItem & { id: string };
  const items: Item[] = [];
  if (last && fs.existsSync(last)) items.push({ label: `$(history) ${path.basename(last)}`, description: last, id: last });
  for (const ws of vscode.workspace.workspaceFolders ?? []) {
    const found = await vscode.workspace.findFiles(new vscode.RelativePattern(ws, '**/*.{csv,tsv,jsonl,parquet}'), '**/{node_modules,.git,.peft-studio}/**', 30);
    for (const f of found) if (f.fsPath !== last) items.push({ label: `$(file) ${path.basename(f.fsPath)}`, description: vscode.workspace.asRelativePath(f), id: f.fsPath });
  }
  if (example && fs.existsSync(example) && example !== last) items.push({ label: '$(beaker) Example: movie-review sentiment (400 rows)', description: 'bundled with PEFT Studio', id: example });
  items.push({ label: '$(folder-opened) Browse…', id: 'browse' });
  const pick = await vscode.window.showQuickPick(items, { title: `New PEFT run (2/5): ${title}`, ignoreFocusOut: true });
  if (!pick) return undefined;
  if (pick.id !== 'browse') return pick.id;
  const uri = await vscode.window.showOpenDialog({ canSelectMany: false, filters: { Data: ['csv', 'tsv', 'jsonl', 'parquet'] }, title });
  return uri?.[0]?.fsPath;
}

async function askNumber(title: string, value: number, prompt?: string, integer = false): Promise<number | undefined> {
  const s = await vscode.window.showInputBox({
    title: `New PEFT run (5/5): ${title}`,
    value: String(value),
    prompt,
    ignoreFocusOut: true,
    validateInput: (v) => {
      const n = Number(v);
      if (!Number.isFinite(n) || n <= 0) return 'a positive number';
      if (integer && !Number.isInteger(n)) return 'a whole number';
      return undefined;
    },
  });
  return s === undefined ? undefined : Number(s);
}

/** Writes the config next to the workspace's runs as `<name>.peft.json`, for reruns and diffs. */
export function saveRunConfig(dir: string, config: Record<string, unknown>): string {
  fs.mkdirSync(dir, { recursive: true });
  const name = `${path.basename(String(config.train_file ?? 'run')).replace(/\.[^.]+$/, '')}-${Date.now().toString(36)}.peft.json`;
  const file = path.join(dir, name);
  const rel = (p: unknown) => (typeof p === 'string' && path.isAbsolute(p) ? path.relative(dir, p) || '.' : p);
  // No $schema: the extension maps *.peft.json to the schema itself (jsonValidation in package.json).
  const body = { ...config, model: rel(config.model), train_file: rel(config.train_file), ...(config.eval_file ? { eval_file: rel(config.eval_file) } : {}) };
  fs.writeFileSync(file, JSON.stringify(body, null, 2) + '\n');
  return file;
}
