import type { McpServer } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { MESSAGE_MAX_CHARS } from '../../shared/contract.js';
import { callerOf } from '../caller.js';
import type { Runs } from '../runs.js';
import { runIdField, RunStatusNameSchema } from '../schemas.js';
import { guard, ok } from '../toolResult.js';

export function registerSendMessage(server: McpServer, runs: Runs): void {
  server.registerTool(
    'send_message',
    {
      title: 'Send guidance to a running agent',
      description:
        'Add a message to a running agent\'s conversation, e.g. a correction or new information. The agent sees it ' +
        'before its next model turn (a turn in progress finishes first). Errors if the run has closed.',
      inputSchema: z.strictObject({
        runId: runIdField,
        message: z.string().min(1).max(MESSAGE_MAX_CHARS).describe('The guidance, in plain language'),
      }),
      outputSchema: z.object({ runId: z.string(), status: RunStatusNameSchema, delivered: z.literal(true) }),
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    },
    ({ runId, message }, ctx) =>
      guard('send_message', async () => ok(await runs.sendMessage(runId, message, callerOf(server, ctx)))),
  );
}
