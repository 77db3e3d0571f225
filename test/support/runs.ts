/** Run-level helpers over an MCP client: start a run, read it, wait for a state. */
import assert from 'node:assert/strict';
import type { Client } from '@modelcontextprotocol/client';
import { callTool } from './mcpStdio.js';
import type { ModelServer } from './modelServer.js';
import { waitFor } from './wait.js';

export interface RunView {
  runId: string;
  status: string;
  step: number;
  result?: string;
  error?: string;
  warnings?: string[];
  waiting?: { reason: string; until: string };
  usage: { llmCalls: number; toolCalls: number; inputTokens: number; outputTokens: number };
  pendingApprovals: Array<{ approvalId: string; tool: string; summary: string }>;
}

export function runHelpers(client: () => Client) {
  async function start(args: Record<string, unknown>): Promise<string> {
    const res = await callTool(client(), 'start_agent_run', args);
    assert.ok(!res.isError, JSON.stringify(res.content));
    return (res.structuredContent as { runId: string }).runId;
  }
  async function status(runId: string): Promise<RunView> {
    const res = await callTool(client(), 'get_run_status', { runId });
    assert.ok(!res.isError, JSON.stringify(res.content));
    return res.structuredContent as unknown as RunView;
  }
  /** Waits (in 30 s slices, up to 2 min) until the run has closed. */
  async function result(runId: string): Promise<RunView> {
    const deadline = Date.now() + 120_000;
    for (;;) {
      const res = await callTool(client(), 'get_run_result', { runId, waitSeconds: 30 }, 60_000);
      const view = res.structuredContent as unknown as RunView;
      if (!['running', 'waiting_for_approval'].includes(view.status) || Date.now() > deadline) return view;
    }
  }
  async function waitForApproval(runId: string): Promise<RunView> {
    let view: RunView | undefined;
    await waitFor(`run ${runId} to wait for approval`, async () => {
      view = await status(runId);
      return view.status === 'waiting_for_approval';
    });
    return view!;
  }
  async function decide(runId: string, approvalId: string, decision: 'approve' | 'reject'): Promise<void> {
    const res = await callTool(client(), 'approve_step', { runId, approvalId, decision });
    assert.ok(!res.isError, JSON.stringify(res.content));
  }
  return { start, status, result, waitForApproval, decide };
}

/** How many model requests of `script` started turn `turn` (had `turn` assistant messages before them). */
export function turns(model: ModelServer, script: string, turn: number): number {
  return model.requests(script).filter((r: { messages: Array<{ role: string }> }) => r.messages.filter((m) => m.role === 'assistant').length === turn).length;
}

/** The text of the tool messages the model received in a request. */
export function toolMessages(request: { messages: Array<{ role: string; content: unknown }> }): string[] {
  return request.messages.filter((m) => m.role === 'tool').map((m) => (typeof m.content === 'string' ? m.content : JSON.stringify(m.content)));
}
