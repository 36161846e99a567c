/**
 * The notebook feature in one registration: *.peftnb files (serializer), their kernel, cell diagnostics and
 * completion, and the notebook commands. The renderer is a contribution (package.json notebookRenderer),
 * loaded by VS Code in the notebook's output webview; the host only produces its JSON.
 */
import * as vscode from 'vscode';
import type { RunManager } from '../core/runManager';
import { compareCells, newNotebook, rerunWithChanges } from './commands';
import { PeftKernel, type StudyDeps } from './controller';
import { STUDY_MIME, type StudyOutput } from '../../../protocol/study';
import { registerDiagnostics } from './diagnostics';
import { NOTEBOOK_TYPE, PeftNotebookSerializer } from './serializer';

export interface NotebookDeps {
  runs: RunManager;
  log: vscode.LogOutputChannel;
  studies?: StudyDeps;
}

export function registerNotebook(context: vscode.ExtensionContext, deps: NotebookDeps): void {
  const sub = (...d: vscode.Disposable[]) => context.subscriptions.push(...d);
  // Outputs are part of the file (the saved curves), so changing them makes the notebook dirty.
  sub(vscode.workspace.registerNotebookSerializer(NOTEBOOK_TYPE, new PeftNotebookSerializer(), { transientOutputs: false }));
  sub(new PeftKernel(deps.runs, deps.log, deps.studies));
  // A study cell's output links to its study tab (the renderer has no channel back to the host).
  sub(vscode.notebooks.registerNotebookCellStatusBarItemProvider(NOTEBOOK_TYPE, {
    provideCellStatusBarItems(cell) {
      const dir = studyDirOf(cell);
      if (!dir) return [];
      const item = new vscode.NotebookCellStatusBarItem('$(graph) Open study report', vscode.NotebookCellStatusBarAlignment.Left);
      item.command = { title: 'Open Study Report', command: 'peftStudio.openStudyReport', arguments: [dir] };
      item.tooltip = dir;
      return [item];
    },
  }));
  sub(...registerDiagnostics());
  sub(vscode.commands.registerCommand('peftStudio.newNotebook', () => newNotebook(context)));
  sub(vscode.commands.registerCommand('peftStudio.compareCells', () => compareCells()));
  sub(vscode.commands.registerCommand('peftStudio.rerunWithChanges', (arg?: unknown) => rerunWithChanges(deps.runs, arg)));
}

/** The study folder of a study cell's output, if it has one. */
export function studyDirOf(cell: vscode.NotebookCell): string | undefined {
  for (const o of cell.outputs) {
    for (const item of o.items) {
      if (item.mime !== STUDY_MIME) continue;
      try {
        const v = JSON.parse(new TextDecoder().decode(item.data)) as StudyOutput;
        if (v?.kind === 'study' && typeof v.dir === 'string') return v.dir;
      } catch {
        // not ours after all
      }
    }
  }
  return undefined;
}
