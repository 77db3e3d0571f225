// What this worker offers beyond http_request (workspace tools, other MCP servers' tools), and the
// activity that calls an MCP server's tool with the call's idempotency key in `_meta`.
import { ApplicationFailure, Context } from '@temporalio/activity';
import { INTERNAL_ERROR, ProtocolError, type CallToolResult } from '@modelcontextprotocol/client';
import type { AgentToolSpec } from '../shared/agentTools.js';
import { OBSERVATION_MAX_CHARS, truncate } from '../shared/contract.js';
import { WORKSPACE_READS, WORKSPACE_TOOLS, type Toolbox, type ToolCallOutcome } from '../shared/toolbox.js';
import type { McpPool } from './mcpServers.js';

const HEARTBEAT_EVERY_MS = 2_000;
/**
 * An error the server sent (a ProtocolError) is an answer for the model, except an internal error,
 * which is worth a retry; the client's own errors (timeout, closed connection: SdkError) are retried.
 */
const isAnswer = (err: unknown): err is ProtocolError => err instanceof ProtocolError && err.code !== INTERNAL_ERROR;

export interface McpToolCallInput {
  name: string;
  args: Record<string, unknown>;
  /** Same on every retry and after every crash; sent in the request's `_meta`. */
  idempotencyKey: string;
}

export function createToolboxActivities(pool: McpPool, workspace: string | undefined) {
  async function describeToolbox(): Promise<Toolbox> {
    const builtIns = workspace ? WORKSPACE_TOOLS.map((t) => ({ name: t.name, readOnly: WORKSPACE_READS.includes(t.name) })) : [];
    const mcp = await pool.listTools();
    return { tools: [...builtIns, ...mcp.tools.map((t) => ({ name: t.name, readOnly: t.readOnly }))], unavailable: mcp.unavailable };
  }

  /** Specs for the model, by name; a name this worker cannot resolve is left out. */
  async function toolSpecs(names: readonly string[]): Promise<AgentToolSpec[]> {
    const specs: AgentToolSpec[] = [];
    for (const name of names) {
      const builtIn = workspace ? WORKSPACE_TOOLS.find((t) => t.name === name) : undefined;
      const spec = builtIn ?? (await pool.findTool(name).catch(() => undefined))?.spec;
      if (spec) specs.push(spec);
    }
    return specs;
  }

  async function callMcpTool(input: McpToolCallInput): Promise<ToolCallOutcome> {
    let info;
    try {
      info = await pool.findTool(input.name);
    } catch (err) {
      // The server will not start: retry (it may come back), then the workflow tells the model.
      throw ApplicationFailure.retryable(err instanceof Error ? err.message : String(err), 'McpServerUnavailable');
    }
    if (!info) return { ok: false, text: `Error: no tool ${input.name} on this worker's MCP servers.` };
    const ctx = Context.current();
    const beat = setInterval(() => ctx.heartbeat(), HEARTBEAT_EVERY_MS);
    try {
      const result = await pool.call(info, input.args, input.idempotencyKey, ctx.cancellationSignal, () => ctx.heartbeat());
      return { ok: !result.isError, text: truncate(resultText(result), OBSERVATION_MAX_CHARS) };
    } catch (err) {
      // The server understood and refused (bad arguments, unknown tool): the model should hear it.
      if (isAnswer(err)) {
        return { ok: false, text: `Error from ${input.name}: ${err.message}` };
      }
      throw err;
    } finally {
      clearInterval(beat);
    }
  }

  return { describeToolbox, toolSpecs, callMcpTool };
}

/** An MCP tool result as text for the model. */
function resultText(result: CallToolResult): string {
  const parts = result.content.map((c) => {
    switch (c.type) {
      case 'text':
        return c.text;
      case 'resource':
        return 'text' in c.resource ? c.resource.text : `[binary resource ${c.resource.uri}]`;
      case 'resource_link':
        return `[resource ${c.uri}]`;
      default:
        return `[${c.type} content, ${'mimeType' in c ? c.mimeType : 'unknown type'}]`;
    }
  });
  if (parts.length === 0 && result.structuredContent) return JSON.stringify(result.structuredContent);
  return parts.join('\n');
}
