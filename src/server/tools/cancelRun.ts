import type { McpServer } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { log } from '../../log.js';
import { callerOf } from '../caller.js';
import type { Runs } from '../runs.js';
import { runIdField, RunStatusNameSchema } from '../schemas.js';
import { guard, ok } from '../toolResult.js';

export function registerCancelRun(server: McpServer, runs: Runs): void {
  server.registerTool(
    'cancel_run',
    {
      title: 'Cancel a run',
      description:
        'Stop a run: the step in flight is cancelled and the run ends with status "cancelled". On a run that has ' +
        'already closed this just reports its final status; repeating it is safe.',
      inputSchema: z.strictObject({
        runId: runIdField,
        reason: z.string().max(10_000).optional().describe('Why, for the logs'),
      }),
      outputSchema: z.object({ runId: z.string(), status: RunStatusNameSchema }),
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    },
    ({ runId, reason }, ctx) =>
      guard('cancel_run', async () => {
        log.info('cancel requested', { runId, ...(reason ? { reason } : {}) });
        return ok(await runs.cancel(runId, callerOf(server, ctx)));
      }),
  );
}
