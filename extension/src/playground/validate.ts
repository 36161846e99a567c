/**
 * Host-side validation of playground webview messages (the webview is untrusted input), with zod's mini
 * build as in ../protocol-validate.ts. Run ids are folder names, never paths; texts are bounded.
 */
import * as z from 'zod/mini';
import { MAX_TEXT, type PlaygroundToHost } from '../../../protocol/playground';

const runId = z.string().check(z.minLength(1), z.maxLength(200), z.regex(/^[A-Za-z0-9._-]+$/, 'run ids are folder names'), z.refine((s) => s !== '.' && s !== '..', 'run ids are folder names'));
const text = z.string().check(z.minLength(1), z.maxLength(MAX_TEXT), z.refine((s) => s.trim() !== '', 'empty text'));
const v = z.literal(1);

export const PlaygroundToHostSchema: z.ZodMiniType<PlaygroundToHost> = z.discriminatedUnion('kind', [
  z.object({ v, kind: z.literal('playground/ready') }),
  z.object({ v, kind: z.literal('playground/selectRun'), runId }),
  z.object({ v, kind: z.literal('playground/predict'), requestId: z.number().check(z.int(), z.nonnegative()), runId, text, textPair: z.optional(text) }),
  z.object({ v, kind: z.literal('playground/predictFile'), runId }),
  z.object({ v, kind: z.literal('playground/log'), level: z.enum(['info', 'warn', 'error']), message: z.string().check(z.maxLength(4000)) }),
]);

/** Validates an untrusted playground message; `ok: false` with a reason when it is not one we accept. */
export function parsePlaygroundMessage(raw: unknown): { ok: true; message: PlaygroundToHost } | { ok: false; reason: string } {
  const r = PlaygroundToHostSchema.safeParse(raw);
  return r.success ? { ok: true, message: r.data } : { ok: false, reason: r.error.issues.map((i) => `${i.path.join('.') || 'message'}: ${i.message}`).join('; ') };
}
