import type { McpServer } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { runAppToolMeta } from '../app/meta.js';
import { callerOf } from '../caller.js';
import type { Runs } from '../runs.js';
import { runIdField, RunStatusSchema } from '../schemas.js';
import { guard, ok } from '../toolResult.js';

export function registerGetRunStatus(server: McpServer, runs: Runs): void {
  server.registerTool(
    'get_run_status',
    {
      title: 'Get run status',
      description:
        'Read where a run stands right now: status (running, waiting_for_approval, completed, failed, cancelled, ' +
        'timed_out), step, pending approvals with their approvalId and summary, the last tool call, token usage, ' +
        'and the result or error once it has closed. Returns at once; use get_run_result to wait.',
      inputSchema: z.strictObject({ runId: runIdField }),
      outputSchema: RunStatusSchema,
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
      // The run app shows this result where the host supports MCP Apps; the result itself is unchanged.
      _meta: runAppToolMeta(),
    },
    ({ runId }, ctx) => guard('get_run_status', async () => ok(await runs.status(runId, callerOf(server, ctx)))),
  );
}
