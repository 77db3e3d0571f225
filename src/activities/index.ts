// Builds the activity implementations from the worker's own configuration: secrets such as the
// model key and MCP servers' env live here, never in workflow inputs or history.
import type { Config } from '../config.js';
import { createCallModel } from './callModel.js';
import { createHttpRequest } from './httpRequest.js';
import type { McpPool } from './mcpServers.js';
import { createToolboxActivities } from './toolbox.js';
import type { AgentActivities, ReadOutcome } from './types.js';
import { createWorkspaceTool } from './workspace.js';

export function createActivities(config: Config, mcp: McpPool): AgentActivities {
  const toolbox = createToolboxActivities(mcp, config.workspace);
  const httpRequest = createHttpRequest({ allow: config.httpAllow, deny: config.httpDeny });
  const workspaceTool = createWorkspaceTool(config.workspace);
  return {
    callModel: createCallModel({
      ...(config.openaiBaseUrl ? { baseURL: config.openaiBaseUrl } : {}),
      ...(config.openaiApiKey ? { apiKey: config.openaiApiKey } : {}),
      toolSpecs: toolbox.toolSpecs,
    }),
    httpRequest,
    describeToolbox: toolbox.describeToolbox,
    callMcpTool: toolbox.callMcpTool,
    workspaceTool,
    readHttp: withInput(httpRequest),
    readMcpTool: withInput(toolbox.callMcpTool),
    readWorkspace: withInput(workspaceTool),
  };
}

/** The same call, returning what it was asked along with its result (see ReadOutcome). */
function withInput<Input, Result>(call: (input: Input) => Promise<Result>): (input: Input) => Promise<ReadOutcome<Input, Result>> {
  return async (input) => ({ input, result: await call(input) });
}
