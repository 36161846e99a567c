/**
 * The notebook feature in one registration: *.peftnb files (serializer), their kernel, cell diagnostics and
 * completion, and the notebook commands. The renderer is a contribution (package.json notebookRenderer),
 * loaded by VS Code in the notebook's output webview; the host only produces its JSON.
 */
import * as vscode from 'vscode';
import type { RunManager } from '../core/runManager';
import { compareCells, newNotebook, rerunWithChanges } from './commands';
import { PeftKernel } from './controller';
import { registerDiagnostics } from './diagnostics';
import { NOTEBOOK_TYPE, PeftNotebookSerializer } from './serializer';

export interface NotebookDeps {
  runs: RunManager;
  log: vscode.LogOutputChannel;
}

export function registerNotebook(context: vscode.ExtensionContext, deps: NotebookDeps): void {
  const sub = (...d: vscode.Disposable[]) => context.subscriptions.push(...d);
  // Outputs are part of the file (the saved curves), so changing them makes the notebook dirty.
  sub(vscode.workspace.registerNotebookSerializer(NOTEBOOK_TYPE, new PeftNotebookSerializer(), { transientOutputs: false }));
  sub(new PeftKernel(deps.runs, deps.log));
  sub(...registerDiagnostics());
  sub(vscode.commands.registerCommand('peftStudio.newNotebook', () => newNotebook(context)));
  sub(vscode.commands.registerCommand('peftStudio.compareCells', () => compareCells()));
  sub(vscode.commands.registerCommand('peftStudio.rerunWithChanges', (arg?: unknown) => rerunWithChanges(deps.runs, arg)));
}
