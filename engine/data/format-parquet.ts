/**
 * Parquet, as the HF Hub serves datasets. hyparquet is pure JS (no native build to break in a VS Code
 * extension) and handles the snappy compression that pyarrow and `datasets` write by default. It is an
 * ES module, so it is loaded with a dynamic import from this CommonJS build.
 */
import { PeftStudioError } from '../errors';
import type { RawRow, RawTable } from './table';

export async function readParquet(file: string): Promise<RawTable> {
  const { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects, parquetSchema } = await import('hyparquet');
  let objects: Record<string, unknown>[];
  let columnNames: string[];
  try {
    const buffer = await asyncBufferFromFile(file);
    const metadata = await parquetMetadataAsync(buffer);
    columnNames = parquetSchema(metadata).children.map((c) => c.element.name);
    objects = await parquetReadObjects({ file: buffer, metadata });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT')
      throw new PeftStudioError('MISSING_FILE', `dataset file not found: ${file}`, file);
    // hyparquet's messages name the problem ("unsupported compression codec: ZSTD", "invalid magic"…).
    throw new PeftStudioError('BAD_DATA', `${file}: cannot read Parquet: ${(err as Error).message}`, file);
  }
  // Parquet has no lines: an example's "line" is its 0-based row index, as pandas and the Hub viewer count.
  const rows: RawRow[] = objects.map((cells, i) => ({ line: i, cells }));
  return { columnNames, columnCount: columnNames.length, keyedBy: 'name', rows, badRows: [] };
}
