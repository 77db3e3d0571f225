// Builds the MCP server: capabilities in one place, one file per tool.
import { McpServer } from '@modelcontextprotocol/server';
import { registerApp } from './app/index.js';
import { TASKS_EXTENSION } from './clientCapabilities.js';
import type { Runs } from './runs.js';
import { registerResources } from './resources/index.js';
import { registerTasks } from './tasks/index.js';
import { registerApproveStep } from './tools/approveStep.js';
import { registerCancelRun } from './tools/cancelRun.js';
import { registerGetRunHistory } from './tools/getRunHistory.js';
import { registerGetRunResult } from './tools/getRunResult.js';
import { registerGetRunStatus } from './tools/getRunStatus.js';
import { registerListRuns } from './tools/listRuns.js';
import { registerSendMessage } from './tools/sendMessage.js';
import { registerStartAgentRun } from './tools/startAgentRun.js';

export interface ServerOptions {
  /** Put pending approvals to the person as forms where the client can show them (off: --no-elicitation). */
  inlineApprovals: boolean;
}

export function createServer(runs: Runs, version: string, options: ServerOptions = { inlineApprovals: true }): McpServer {
  const server = new McpServer(
    { name: 'durable-agent-mcp', title: 'Durable Agent', version },
    {
      capabilities: {
        tools: {},
        logging: {},
        // Runs are resources too; clients subscribe to them (the list of them is per caller, never pushed).
        resources: { subscribe: true, listChanged: false },
        // Runs are tasks: the 2026-07-28 extension, and the 2025-11-25 capability (dropped by the SDK
        // from server/discover, where it does not exist).
        extensions: { [TASKS_EXTENSION]: {} },
        tasks: { list: {}, cancel: {}, requests: { tools: { call: {} } } },
      },
      // The tool list is the same for every caller and changes only with a new version of the server.
      cacheHints: {
        'tools/list': { ttlMs: 60 * 60_000, cacheScope: 'public' },
        'resources/templates/list': { ttlMs: 60 * 60_000, cacheScope: 'public' },
        // The caller's runs: theirs alone, and new ones come at any time.
        'resources/list': { ttlMs: 0, cacheScope: 'private' },
      },
      instructions:
        'Hands long tasks to durable background agents backed by Temporal. start_agent_run returns a runId at ' +
        'once; poll get_run_status or wait with get_run_result; answer pending approvals with approve_step; steer a running agent with send_message.',
    },
  );
  registerStartAgentRun(server, runs, options);
  registerGetRunStatus(server, runs);
  registerApproveStep(server, runs);
  registerCancelRun(server, runs);
  registerListRuns(server, runs);
  registerGetRunResult(server, runs, options);
  registerSendMessage(server, runs);
  registerGetRunHistory(server, runs);
  registerApp(server, runs);
  registerTasks(server, runs, options);
  registerResources(server, runs);
  return server;
}
