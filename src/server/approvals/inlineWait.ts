// get_run_result with approvals answered inline: while it waits, each new pending approval goes to the
// person as a form (`input_required` on 2026-07-28; the SDK's shim turns the same answer into
// `elicitation/create` on 2025-11-25). The retry carries the answers and this call's state: its
// deadline (one 50 s budget across rounds) and the approvals it already asked about, so a declined
// form is not asked again in the same call.
import { inputRequired, type CallToolResult, type InputRequiredResult, type ServerContext } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { isClosedStatus, type RunStatusName } from '../../shared/contract.js';
import type { Caller } from '../principal.js';
import type { Runs } from '../runs.js';
import { ok } from '../toolResult.js';
import { applyAnswers } from './answers.js';
import { approvalRequests } from './forms.js';

const MAX_WAIT_MS = 50_000;
/** The run is looked at this often while waiting, to catch a new approval as well as the close. */
const SLICE_SECONDS = 2;

// Not signed: it holds only a deadline (capped below) and ids of forms already shown; a forged one
// can shorten the caller's own wait or skip a form, nothing more.
const StateSchema = z.object({ deadline: z.number(), asked: z.array(z.string().max(200)).max(1_000) });
type WaitState = z.infer<typeof StateSchema>;

export async function resultWithInlineApprovals(
  runs: Runs,
  runId: string,
  waitSeconds: number,
  caller: Caller,
  ctx: ServerContext,
  onProgress?: (elapsed: number, status: RunStatusName) => Promise<void>,
): Promise<CallToolResult | InputRequiredResult> {
  const now = Date.now();
  const state = readState(ctx.mcpReq.requestState(), now, waitSeconds);
  const asked = new Set(state.asked);
  const notes: string[] = [];
  const answers = ctx.mcpReq.inputResponses;
  if (answers) {
    const ours = Object.fromEntries(Object.entries(answers).filter(([key]) => asked.has(key)));
    for (const outcome of await applyAnswers(runs, runId, ours, caller, 'elicitation')) notes.push(outcome.note);
  }
  const started = state.deadline - Math.min(MAX_WAIT_MS, waitSeconds * 1000);
  const progress = onProgress && ((_: number, status: RunStatusName) => onProgress((Date.now() - started) / 1000, status));
  let slice = 0; // look first, then wait
  for (;;) {
    const run = await runs.result(runId, slice, caller, progress);
    if (isClosedStatus(run.status)) return withNotes(ok(run), notes);
    const forms = approvalRequests(run, asked);
    const keys = Object.keys(forms);
    if (keys.length) {
      const next: WaitState = { deadline: state.deadline, asked: [...asked, ...keys] };
      return inputRequired({ inputRequests: forms, requestState: encodeState(next) });
    }
    const leftSeconds = (state.deadline - Date.now()) / 1000;
    if (leftSeconds <= 0 || runs.isStopping()) return withNotes(ok(run), notes);
    slice = Math.min(SLICE_SECONDS, leftSeconds);
  }
}

function withNotes(result: CallToolResult, notes: string[]): CallToolResult {
  return notes.length ? { ...result, content: [...result.content, { type: 'text', text: notes.join('\n') }] } : result;
}

function readState(raw: unknown, now: number, waitSeconds: number): WaitState {
  const fresh = { deadline: now + Math.min(MAX_WAIT_MS, waitSeconds * 1000), asked: [] };
  if (typeof raw !== 'string') return fresh;
  try {
    const parsed = StateSchema.safeParse(JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')));
    if (!parsed.success) return fresh;
    return { deadline: Math.min(parsed.data.deadline, now + MAX_WAIT_MS), asked: parsed.data.asked };
  } catch {
    return fresh;
  }
}

function encodeState(state: WaitState): string {
  return Buffer.from(JSON.stringify(state)).toString('base64url');
}
