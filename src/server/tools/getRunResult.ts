import type { CallToolResult, InputRequiredResult, McpServer } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { resultWithInlineApprovals } from '../approvals/inlineWait.js';
import { runAppToolMeta } from '../app/meta.js';
import { callerOf } from '../caller.js';
import { acceptsForms } from '../clientCapabilities.js';
import type { ServerOptions } from '../createServer.js';
import type { Runs } from '../runs.js';
import { runIdField, RunStatusSchema } from '../schemas.js';
import { guard, ok } from '../toolResult.js';

export function registerGetRunResult(server: McpServer, runs: Runs, options: ServerOptions): void {
  server.registerTool(
    'get_run_result',
    {
      title: 'Wait for a run result',
      description:
        'Wait up to waitSeconds (0–50, default 0) for a run to close, then return its status with the result or ' +
        'error. If it is still running (or waiting for approval) when the wait ends, you get the current status: ' +
        'call again to keep waiting. Where the client shows forms, pending approvals are put to the person while it waits.',
      inputSchema: z.strictObject({
        runId: runIdField,
        waitSeconds: z.number().min(0).max(50).optional().describe('How long to wait, 0–50 s (default 0)'),
      }),
      outputSchema: RunStatusSchema,
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
      // The run app shows this result where the host supports MCP Apps; the result itself is unchanged.
      _meta: runAppToolMeta(),
    },
    ({ runId, waitSeconds }, ctx) =>
      guard('get_run_result', async (): Promise<CallToolResult | InputRequiredResult> => {
        const token = ctx.mcpReq._meta?.progressToken;
        const wait = waitSeconds ?? 0;
        const onProgress =
          token === undefined
            ? undefined
            : (elapsed: number, status: string) =>
                ctx.mcpReq.notify({
                  method: 'notifications/progress',
                  params: { progressToken: token, progress: Math.round(elapsed), total: wait, message: `run is ${status}` },
                });
        const caller = callerOf(server, ctx);
        if (options.inlineApprovals && acceptsForms(server, ctx)) {
          return resultWithInlineApprovals(runs, runId, wait, caller, ctx, onProgress);
        }
        return ok(await runs.result(runId, wait, caller, onProgress));
      }),
  );
}
