// Builds the MCP server: capabilities in one place, one file per tool.
import { McpServer } from '@modelcontextprotocol/server';
import type { Runs } from './runs.js';
import { registerApproveStep } from './tools/approveStep.js';
import { registerCancelRun } from './tools/cancelRun.js';
import { registerGetRunHistory } from './tools/getRunHistory.js';
import { registerGetRunResult } from './tools/getRunResult.js';
import { registerGetRunStatus } from './tools/getRunStatus.js';
import { registerListRuns } from './tools/listRuns.js';
import { registerSendMessage } from './tools/sendMessage.js';
import { registerStartAgentRun } from './tools/startAgentRun.js';

export function createServer(runs: Runs, version: string): McpServer {
  const server = new McpServer(
    { name: 'durable-agent-mcp', title: 'Durable Agent', version },
    {
      capabilities: { tools: {}, logging: {} },
      // The tool list is the same for every caller and changes only with a new version of the server.
      cacheHints: { 'tools/list': { ttlMs: 60 * 60_000, cacheScope: 'public' } },
      instructions:
        'Hands long tasks to durable background agents backed by Temporal. start_agent_run returns a runId at ' +
        'once; poll get_run_status or wait with get_run_result; answer pending approvals with approve_step; steer a running agent with send_message.',
    },
  );
  registerStartAgentRun(server, runs);
  registerGetRunStatus(server, runs);
  registerApproveStep(server, runs);
  registerCancelRun(server, runs);
  registerListRuns(server, runs);
  registerGetRunResult(server, runs);
  registerSendMessage(server, runs);
  registerGetRunHistory(server, runs);
  return server;
}
