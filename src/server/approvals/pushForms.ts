// 2025-11-25: approvals of a task go to the person as `elicitation/create`, sent alongside the
// client's own tasks/get or tasks/result (VS Code polls tasks/get while a task is input_required).
// Each approval is asked once per connection at a time; one declined there is not asked there again.
import { RELATED_TASK_META_KEY, type McpServer, type ServerContext } from '@modelcontextprotocol/server';
import type { RunStatus } from '../../shared/contract.js';
import { log } from '../../log.js';
import type { Caller } from '../principal.js';
import type { Runs } from '../runs.js';
import { applyAnswer } from './answers.js';
import { APPROVAL_FORM_SCHEMA, approvalMessage } from './forms.js';

/** A form stays open at most this long (the approval itself may expire sooner). */
const MAX_FORM_MS = 24 * 3600_000;

interface Asked {
  open: Set<string>;
  declined: Set<string>;
}
const askedOn = new WeakMap<McpServer, Asked>();

export function pushApprovalForms(server: McpServer, runs: Runs, ctx: ServerContext, caller: Caller, run: RunStatus): void {
  let asked = askedOn.get(server);
  if (!asked) askedOn.set(server, (asked = { open: new Set(), declined: new Set() }));
  const state = asked;
  for (const approval of run.pendingApprovals) {
    const key = `${run.runId}\n${approval.approvalId}`;
    if (state.open.has(key) || state.declined.has(key)) continue;
    state.open.add(key);
    const timeout = Math.max(1_000, Math.min(MAX_FORM_MS, Date.parse(approval.expiresAt) - Date.now() || MAX_FORM_MS));
    void ctx.mcpReq
      .elicitInput(
        {
          mode: 'form',
          message: approvalMessage(run.runId, approval),
          requestedSchema: APPROVAL_FORM_SCHEMA,
          _meta: { [RELATED_TASK_META_KEY]: { taskId: run.runId } },
        },
        { timeout },
      )
      .then(async (answer) => {
        const outcome = await applyAnswer(runs, run.runId, approval.approvalId, answer, caller, 'elicitation');
        if (outcome.outcome === 'declined') state.declined.add(key);
        if (outcome.outcome !== 'applied' && outcome.outcome !== 'declined') {
          // The person answered a form that no longer mattered: say so where the client shows logs.
          await server.server.sendLoggingMessage({ level: 'warning', logger: 'durable-agent', data: outcome.note }).catch(() => undefined);
        }
      })
      .catch((err: unknown) => log.debug('approval form not answered', { runId: run.runId, error: err instanceof Error ? err.message : String(err) }))
      .finally(() => state.open.delete(key));
  }
}
