/** NotebookSerializer for *.peftnb: vscode's NotebookData ⇄ the file format of format.ts. */
import * as vscode from 'vscode';
import { OUTPUT_MIMES, parseNotebook, serializeNotebook, type FileCell, type FileOutput } from './format';

export const NOTEBOOK_TYPE = 'peft-studio.notebook';
/** Cell metadata key of the stable cell id. */
export const CELL_ID = 'id';

export class PeftNotebookSerializer implements vscode.NotebookSerializer {
  deserializeNotebook(content: Uint8Array): vscode.NotebookData {
    // A malformed file throws: VS Code then shows the error instead of opening an empty notebook that a
    // save would write over the user's file.
    const nb = parseNotebook(new TextDecoder().decode(content));
    return new vscode.NotebookData(nb.cells.map(toCellData));
  }

  serializeNotebook(data: vscode.NotebookData): Uint8Array {
    return new TextEncoder().encode(serializeNotebook({ cells: data.cells.map(fromCellData) }));
  }
}

export function toCellData(c: FileCell): vscode.NotebookCellData {
  const kind = c.kind === 'markdown' ? vscode.NotebookCellKind.Markup : vscode.NotebookCellKind.Code;
  const cell = new vscode.NotebookCellData(kind, c.source, c.kind === 'markdown' ? 'markdown' : (c.language ?? 'yaml'));
  if (c.id) cell.metadata = { [CELL_ID]: c.id };
  if (c.outputs) cell.outputs = c.outputs.map((o) => new vscode.NotebookCellOutput([vscode.NotebookCellOutputItem.json(o.data, o.mime)]));
  if (c.execution) cell.executionSummary = { executionOrder: c.execution.order, success: c.execution.success };
  return cell;
}

function fromCellData(c: vscode.NotebookCellData): FileCell {
  if (c.kind === vscode.NotebookCellKind.Markup) return { kind: 'markdown', source: c.value };
  const id = c.metadata?.[CELL_ID];
  const outputs: FileOutput[] = [];
  for (const o of c.outputs ?? []) {
    for (const item of o.items) {
      const mime = OUTPUT_MIMES.find((m) => m === item.mime);
      // Error and text items are session-only: the file keeps what the renderer can redraw.
      if (!mime) continue;
      try {
        outputs.push({ mime, data: JSON.parse(new TextDecoder().decode(item.data)) });
      } catch {
        // an item that is not JSON is not one of ours: leave it out of the file
      }
    }
  }
  return {
    kind: 'code',
    id: typeof id === 'string' ? id : undefined,
    language: c.languageId,
    source: c.value,
    execution: c.executionSummary ? { order: c.executionSummary.executionOrder, success: c.executionSummary.success } : undefined,
    outputs: outputs.length ? outputs : undefined,
  };
}
