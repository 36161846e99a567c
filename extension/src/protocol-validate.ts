/**
 * Host-side validation of webview messages: the webview is untrusted input. zod's "mini" build keeps the
 * extension host bundle small (no locale tables, no method chains) with the same checks.
 */
import * as z from 'zod/mini';
import type { StudyToHost } from '../../protocol/study';
import type { WebviewToHost } from '../../protocol/webview';

const runId = z.string().check(z.minLength(1), z.maxLength(200), z.regex(/^[A-Za-z0-9._-]+$/, 'run ids are folder names'));
const v = z.literal(1);
export const WebviewToHostSchema: z.ZodMiniType<WebviewToHost> = z.discriminatedUnion('kind', [
  z.object({ v, kind: z.literal('dashboard/ready') }),
  z.object({ v, kind: z.literal('run/pause'), runId }),
  z.object({ v, kind: z.literal('run/resume'), runId }),
  z.object({ v, kind: z.literal('run/stop'), runId }),
  z.object({ v, kind: z.literal('dashboard/select'), runIds: z.array(runId).check(z.maxLength(16)) }),
  z.object({ v, kind: z.literal('dashboard/log'), level: z.enum(['info', 'warn', 'error']), message: z.string().check(z.maxLength(4000)) }),
]);

/** Validates an untrusted webview message; `ok: false` with a reason when it is not one we accept. */
export function parseWebviewMessage(raw: unknown): { ok: true; message: WebviewToHost } | { ok: false; reason: string } {
  const r = WebviewToHostSchema.safeParse(raw);
  return r.success ? { ok: true, message: r.data } : { ok: false, reason: r.error.issues.map((i) => `${i.path.join('.') || 'message'}: ${i.message}`).join('; ') };
}

export const StudyToHostSchema: z.ZodMiniType<StudyToHost> = z.discriminatedUnion('kind', [
  z.object({ v, kind: z.literal('study/ready') }),
  z.object({ v, kind: z.literal('study/openReportFile'), file: z.enum(['report.md', 'results.csv']) }),
]);

/** Validates an untrusted message from the study tab. */
export function parseStudyMessage(raw: unknown): { ok: true; message: StudyToHost } | { ok: false; reason: string } {
  const r = StudyToHostSchema.safeParse(raw);
  return r.success ? { ok: true, message: r.data } : { ok: false, reason: r.error.issues.map((i) => `${i.path.join('.') || 'message'}: ${i.message}`).join('; ') };
}
