import type { McpServer } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { runAppToolMeta } from '../app/meta.js';
import { callerOf } from '../caller.js';
import type { Runs } from '../runs.js';
import { RunStatusNameSchema } from '../schemas.js';
import { guard, ok } from '../toolResult.js';

export function registerListRuns(server: McpServer, runs: Runs): void {
  server.registerTool(
    'list_runs',
    {
      title: 'List runs',
      description:
        'List agent runs, newest first, optionally only those with one status. Pass nextCursor back as cursor for ' +
        'the next page. The list can lag a second or two behind a run that just started or closed.',
      inputSchema: z.strictObject({
        status: RunStatusNameSchema.optional(),
        limit: z.number().int().min(1).max(100).optional().describe('Page size, 1–100 (default 20)'),
        cursor: z.string().max(1000).optional(),
      }),
      outputSchema: z.object({
        runs: z.array(
          z.object({
            runId: z.string(),
            status: RunStatusNameSchema,
            task: z.string(),
            startedAt: z.string(),
            closedAt: z.string().optional(),
            parentRunId: z.string().optional(),
          }),
        ),
        nextCursor: z.string().optional(),
      }),
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
      // The run app shows this result where the host supports MCP Apps; the result itself is unchanged.
      _meta: runAppToolMeta(),
    },
    (args, ctx) => guard('list_runs', async () => ok(await runs.list(args, callerOf(server, ctx)))),
  );
}
