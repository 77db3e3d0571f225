// Zod schemas for tool inputs and outputs: the public MCP contract in code.
import { z } from 'zod';
import { RUN_STATUSES } from '../shared/contract.js';

export const runIdField = z
  .string()
  .min(1)
  .max(200)
  .describe('The run id returned by start_agent_run');

export const RunStatusNameSchema = z.enum(RUN_STATUSES);

export const PendingApprovalSchema = z.object({
  approvalId: z.string(),
  tool: z.string(),
  arguments: z.unknown(),
  summary: z.string(),
  requestedAt: z.string(),
  expiresAt: z.string(),
});

export const RunStatusSchema = z.object({
  runId: z.string(),
  status: RunStatusNameSchema,
  task: z.string(),
  step: z.number().int(),
  maxSteps: z.number().int(),
  pendingApprovals: z.array(PendingApprovalSchema),
  lastToolCall: z.object({ tool: z.string(), arguments: z.unknown(), ok: z.boolean(), at: z.string() }).optional(),
  usage: z.object({
    llmCalls: z.number().int(),
    toolCalls: z.number().int(),
    inputTokens: z.number().int(),
    outputTokens: z.number().int(),
  }),
  result: z.string().optional(),
  error: z.string().optional(),
  warnings: z.array(z.string()).optional(),
  waiting: z.object({ reason: z.string(), until: z.string() }).optional(),
  children: z.array(z.object({ runId: z.string(), task: z.string(), status: RunStatusNameSchema })).optional(),
  parentRunId: z.string().optional(),
  startedAt: z.string(),
  updatedAt: z.string(),
  closedAt: z.string().optional(),
});
