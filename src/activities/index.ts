// Builds the activity implementations from the worker's own configuration: secrets such as the
// model key and MCP servers' env live here, never in workflow inputs or history.
import type { Config } from '../config.js';
import { createCallModel } from './callModel.js';
import { createHttpRequest } from './httpRequest.js';
import type { McpPool } from './mcpServers.js';
import { createToolboxActivities } from './toolbox.js';
import type { AgentActivities } from './types.js';
import { createWorkspaceTool } from './workspace.js';

export function createActivities(config: Config, mcp: McpPool): AgentActivities {
  const toolbox = createToolboxActivities(mcp, config.workspace);
  return {
    callModel: createCallModel({
      ...(config.openaiBaseUrl ? { baseURL: config.openaiBaseUrl } : {}),
      ...(config.openaiApiKey ? { apiKey: config.openaiApiKey } : {}),
      toolSpecs: toolbox.toolSpecs,
    }),
    httpRequest: createHttpRequest({ allow: config.httpAllow, deny: config.httpDeny }),
    describeToolbox: toolbox.describeToolbox,
    callMcpTool: toolbox.callMcpTool,
    workspaceTool: createWorkspaceTool(config.workspace),
  };
}
