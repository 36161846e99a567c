/**
 * Every error the engine raises on purpose is a PeftStudioError: it carries a stable `code` (for the
 * extension and the CLI to branch on) and, where a file is at fault, that file's path, so a user reads
 * "what is wrong, and where" instead of a stack trace.
 */
export type ErrorCode =
  | 'BAD_WEIGHTS' // a weights file is malformed or lies about its contents
  | 'BAD_CONFIG' // config.json is missing, unreadable, or lacks a required field
  | 'UNSUPPORTED' // a valid input that this version does not handle (architecture, dtype, …)
  | 'MISSING_FILE' // a file the task needs is absent
  | 'WEIGHTS_MISMATCH' // tensors missing, unexpected or of the wrong shape for the config
  | 'BAD_INPUT' // user input (text, options) is invalid
  | 'BAD_DATA' // a dataset row or file is malformed
  | 'BACKEND' // a requested compute backend cannot be used
  | 'TRAINING' // training cannot go on (NaN loss, …)
  | 'IO'; // the file system refused (disk full, permissions)

export class PeftStudioError extends Error {
  override readonly name = 'PeftStudioError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** The file at fault, when there is one. Already part of `message`; kept for programmatic use. */
    readonly file?: string,
  ) {
    super(message);
  }
}
