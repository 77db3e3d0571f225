import type { McpServer } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { AGENT_TOOL_NAMES } from '../../shared/agentTools.js';
import { WORKSPACE_TOOL_NAMES } from '../../shared/toolbox.js';
import { runAppToolMeta } from '../app/meta.js';
import { callerOf } from '../caller.js';
import type { ServerOptions } from '../createServer.js';
import type { Runs } from '../runs.js';
import { startedAsTask, wantsTask } from '../tasks/index.js';
import { RunStatusNameSchema } from '../schemas.js';
import { guard, ok } from '../toolResult.js';

export function registerStartAgentRun(server: McpServer, runs: Runs, options: ServerOptions): void {
  const tool = server.registerTool(
    'start_agent_run',
    {
      title: 'Start a durable agent run',
      description:
        'Hand a long task to a durable background agent and get a runId back at once; the agent keeps working ' +
        'even if this conversation, the server or the machine restarts. Follow it with get_run_status, ' +
        'get_run_result (can wait up to 50 s), approve_step (writes need approval by default) and cancel_run. ' +
        `Built-in agent tools: ${AGENT_TOOL_NAMES.join(', ')}; with a workspace configured also ` +
        `${WORKSPACE_TOOL_NAMES.join(', ')}; plus the tools of the worker's MCP servers as <server>__<tool>. ` +
        'Pass an idempotencyKey to make retries of this call safe: the same key always returns the same run. ' +
        'Clients with MCP tasks get the run as a task (task id = runId).',
      inputSchema: z.strictObject({
        task: z.string().min(1).max(100_000).describe('What the agent should accomplish, in plain language'),
        instructions: z.string().max(100_000).optional().describe('Extra system instructions for the agent'),
        model: z.string().min(1).max(200).optional().describe('Model name; defaults to the server default'),
        tools: z
          .array(z.string().min(1).max(200))
          .max(100)
          .optional()
          .describe('Tool names the agent may use: built-in names, <server>__<tool>, <server>__* for all of a server, * for all (default)'),
        approval: z
          .enum(['none', 'writes', 'all'])
          .optional()
          .describe('Which tool calls wait for a human: none, writes (default) or all'),
        maxSteps: z.number().int().min(1).max(500).optional().describe('Maximum model turns (default 25)'),
        maxTokens: z
          .number()
          .int()
          .min(1)
          .max(1_000_000_000)
          .optional()
          .describe('Budget of model tokens (input + output, over all turns); the run fails once it is spent (default: no limit)'),
        timeoutSeconds: z
          .number()
          .int()
          .min(1)
          .max(365 * 24 * 3600)
          .optional()
          .describe('Wall-clock budget in seconds (default 7 days)'),
        approvalTimeoutSeconds: z
          .number()
          .int()
          .min(1)
          .max(365 * 24 * 3600)
          .optional()
          .describe('How long a call waits for a decision before the agent is told it was not executed (default 24 h)'),
        idempotencyKey: z.string().min(1).max(200).optional().describe('Same key → same run; nothing new is started'),
      }),
      outputSchema: z.object({ runId: z.string(), status: RunStatusNameSchema, created: z.boolean() }),
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
      // The run app shows this result where the host supports MCP Apps; the result itself is unchanged.
      _meta: runAppToolMeta(),
    },
    (args, ctx) =>
      guard('start_agent_run', async () => {
        const caller = callerOf(server, ctx);
        const started = await runs.start(args, caller);
        return wantsTask(server, ctx) ? startedAsTask(server, runs, ctx, caller, started, options) : ok(started);
      }),
  );
  // 2025-11-25 clients (VS Code) may run it as a task; the SDK's registerTool takes no `execution`.
  tool.execution = { taskSupport: 'optional' };
}
