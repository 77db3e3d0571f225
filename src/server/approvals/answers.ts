// Applies form answers to a run's approvals, through whichever channel they came. The first decision
// wins: an answer for an approval that was decided elsewhere meanwhile changes nothing, and says so.
import type { DecideOutcome, DecisionChannel } from '../runService.js';
import type { Caller } from '../principal.js';
import type { Runs } from '../runs.js';
import { UserError } from '../toolResult.js';
import { readAnswer } from './forms.js';

export interface AnswerOutcome {
  approvalId: string;
  outcome: 'applied' | 'declined' | 'already_decided' | 'not_pending' | 'invalid';
  /** One sentence for the person or model that answered. */
  note: string;
}

export async function applyAnswers(
  runs: Runs,
  runId: string,
  answers: Record<string, unknown>,
  caller: Caller,
  channel: DecisionChannel,
): Promise<AnswerOutcome[]> {
  const outcomes: AnswerOutcome[] = [];
  for (const [approvalId, raw] of Object.entries(answers)) {
    outcomes.push(await applyAnswer(runs, runId, approvalId, raw, caller, channel));
  }
  return outcomes;
}

export async function applyAnswer(
  runs: Runs,
  runId: string,
  approvalId: string,
  raw: unknown,
  caller: Caller,
  channel: DecisionChannel,
): Promise<AnswerOutcome> {
  const answer = readAnswer(raw);
  if (answer.kind === 'invalid') return { approvalId, outcome: 'invalid', note: `Answer for approval ${approvalId} ignored: ${answer.why}.` };
  if (answer.kind === 'declined') {
    return {
      approvalId,
      outcome: 'declined',
      note: `Approval ${approvalId} was not answered (${answer.action}); it stays pending for approve_step or another client.`,
    };
  }
  let decided: DecideOutcome;
  try {
    decided = await runs.decide(runId, approvalId, answer.decision, answer.comment, caller, channel);
  } catch (err) {
    if (err instanceof UserError) return { approvalId, outcome: 'not_pending', note: err.message };
    throw err;
  }
  switch (decided.kind) {
    case 'applied':
      return { approvalId, outcome: 'applied', note: `Approval ${approvalId}: ${answer.decision === 'approve' ? 'approved' : 'rejected'}.` };
    case 'same':
      return {
        approvalId,
        outcome: 'already_decided',
        note: `Approval ${approvalId} had already been decided the same way (${answer.decision}) elsewhere; nothing changed.`,
      };
    case 'changed':
      return {
        approvalId,
        outcome: 'already_decided',
        note: `Approval ${approvalId} had already been decided as "${decided.decision}" elsewhere; your "${answer.decision}" changed nothing.`,
      };
    case 'closed':
      return { approvalId, outcome: 'not_pending', note: `Run ${runId} is ${decided.status}; approval ${approvalId} no longer waits.` };
    case 'unknown':
      return { approvalId, outcome: 'not_pending', note: `Approval ${approvalId} is not pending for run ${runId}; nothing changed.` };
  }
}
