import type { McpServer } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { callerOf } from '../caller.js';
import type { Runs } from '../runs.js';
import { runIdField } from '../schemas.js';
import { guard, ok } from '../toolResult.js';

export const HistoryEntrySchema = z.object({
  at: z.string(),
  kind: z.enum(['started', 'llm_turn', 'tool_call', 'retry', 'error', 'approval', 'message', 'cancel_requested', 'continued_as_new', 'closed']),
  summary: z.string(),
  execution: z.number().int(),
  tool: z.string().optional(),
  arguments: z.unknown().optional(),
  result: z.string().optional(),
  ok: z.boolean().optional(),
  attempts: z.number().int().optional(),
  durationMs: z.number().optional(),
  approvalId: z.string().optional(),
  decision: z.string().optional(),
  comment: z.string().optional(),
  by: z.string().optional(),
  channel: z.string().optional(),
  error: z.string().optional(),
  usage: z.object({ inputTokens: z.number(), outputTokens: z.number() }).optional(),
});

export function registerGetRunHistory(server: McpServer, runs: Runs): void {
  server.registerTool(
    'get_run_history',
    {
      title: 'Read a run\'s timeline',
      description:
        'The timeline of a run, oldest first, from its durable event history: each model turn, tool call ' +
        '(arguments, result, attempts, duration), retry, approval decision, caller message, error and ' +
        'continue-as-new. Works for running and closed runs. Pages of `limit` entries; pass nextCursor to read on.',
      inputSchema: z.strictObject({
        runId: runIdField,
        cursor: z.string().max(100).optional().describe('nextCursor from the previous page'),
        limit: z.number().int().min(1).max(200).optional().describe('Entries per page (default 50)'),
      }),
      outputSchema: z.object({ runId: z.string(), entries: z.array(HistoryEntrySchema), nextCursor: z.string().optional() }),
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    ({ runId, cursor, limit }, ctx) =>
      guard('get_run_history', async () => ok(await runs.history(runId, cursor, limit, callerOf(server, ctx)))),
  );
}
