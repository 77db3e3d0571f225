// A pending approval as an elicitation form, and a form answer read back. The form is what a person
// sees in the client's own UI; everything in it came from the model, so it is cut and redacted.
import { inputRequired, type InputRequest } from '@modelcontextprotocol/server';
import { z } from 'zod';
import type { PendingApproval, RunStatus } from '../../shared/contract.js';

const MESSAGE_ARGS_CHARS = 1_500;
const COMMENT_MAX_CHARS = 2_000;

type RequestedSchema = Extract<Parameters<typeof inputRequired.elicit>[0]['requestedSchema'], { type: 'object' }>;

/** The fields of every approval form: a decision and an optional comment for the agent. */
export const APPROVAL_FORM_SCHEMA: RequestedSchema = {
  type: 'object',
  properties: {
    decision: {
      type: 'string',
      title: 'Decision',
      description: 'approve runs the tool call; reject tells the agent it was not run',
      oneOf: [
        { const: 'approve', title: 'Approve' },
        { const: 'reject', title: 'Reject' },
      ],
    },
    comment: { type: 'string', title: 'Comment for the agent (optional)', maxLength: COMMENT_MAX_CHARS },
  },
  required: ['decision'],
};

/** The text above the form: which run, which tool, with what, until when. */
export function approvalMessage(runId: string, approval: PendingApproval): string {
  let args = JSON.stringify(approval.arguments ?? {});
  if (args.length > MESSAGE_ARGS_CHARS) args = `${args.slice(0, MESSAGE_ARGS_CHARS)}… (cut; get_run_status shows all)`;
  return (
    `Durable agent run ${runId} asks to call ${approval.tool}: ${approval.summary}\n` +
    `Arguments: ${args}\n` +
    `Approval ${approval.approvalId}, open until ${approval.expiresAt}.`
  );
}

/** One `elicitation/create` request for an approval (the shape `inputRequests` entries take). */
export function approvalRequest(runId: string, approval: PendingApproval): InputRequest {
  return inputRequired.elicit({ message: approvalMessage(runId, approval), requestedSchema: APPROVAL_FORM_SCHEMA });
}

/** Forms for the run's pending approvals, keyed by approvalId (unique over the run's life), minus `skip`. */
export function approvalRequests(run: RunStatus, skip: ReadonlySet<string> = new Set()): Record<string, InputRequest> {
  const requests: Record<string, InputRequest> = {};
  for (const approval of run.pendingApprovals) {
    if (!skip.has(approval.approvalId)) requests[approval.approvalId] = approvalRequest(run.runId, approval);
  }
  return requests;
}

const AcceptedSchema = z.object({
  decision: z.enum(['approve', 'reject']),
  comment: z.string().max(COMMENT_MAX_CHARS).optional(),
});
const AnswerSchema = z.object({ action: z.enum(['accept', 'decline', 'cancel']), content: z.unknown().optional() });

export type FormAnswer =
  | { kind: 'decision'; decision: 'approve' | 'reject'; comment?: string }
  | { kind: 'declined'; action: 'decline' | 'cancel' }
  | { kind: 'invalid'; why: string };

/** Reads one answer as the client sent it (a bare elicitation result, or one wrapped in `result`). */
export function readAnswer(raw: unknown): FormAnswer {
  const bare = typeof raw === 'object' && raw !== null && 'result' in raw && !('action' in raw) ? (raw).result : raw;
  const answer = AnswerSchema.safeParse(bare);
  if (!answer.success) return { kind: 'invalid', why: 'not an elicitation result ({ action, content })' };
  if (answer.data.action !== 'accept') return { kind: 'declined', action: answer.data.action };
  const content = AcceptedSchema.safeParse(answer.data.content);
  if (!content.success) return { kind: 'invalid', why: 'decision must be "approve" or "reject" (comment: text up to 2000 characters)' };
  const comment = content.data.comment?.trim();
  return { kind: 'decision', decision: content.data.decision, ...(comment ? { comment } : {}) };
}
