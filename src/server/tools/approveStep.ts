import type { McpServer } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { callerOf } from '../caller.js';
import type { Runs } from '../runs.js';
import { runIdField, RunStatusNameSchema } from '../schemas.js';
import { guard, ok } from '../toolResult.js';

export function registerApproveStep(server: McpServer, runs: Runs): void {
  server.registerTool(
    'approve_step',
    {
      title: 'Approve or reject a pending step',
      description:
        'Decide on a tool call that a run is waiting for (see pendingApprovals in get_run_status). "approve" lets ' +
        'the call run once; "reject" skips it and tells the agent, with your comment, so it can adapt. Sending the ' +
        'same decision again is harmless.',
      inputSchema: z.strictObject({
        runId: runIdField,
        approvalId: z.string().min(1).max(200).describe('The approvalId from pendingApprovals'),
        decision: z.enum(['approve', 'reject']),
        comment: z.string().max(10_000).optional().describe('Shown to the agent, e.g. why you rejected'),
      }),
      outputSchema: z.object({
        runId: z.string(),
        approvalId: z.string(),
        decision: z.enum(['approve', 'reject']),
        status: RunStatusNameSchema,
      }),
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: true },
    },
    ({ runId, approvalId, decision, comment }, ctx) =>
      guard('approve_step', async () => ok(await runs.approve(runId, approvalId, decision, comment, callerOf(server, ctx)))),
  );
}
