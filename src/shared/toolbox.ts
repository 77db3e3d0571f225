// The agent's toolbox beyond `http_request`: workspace file tools and other MCP servers' tools.
// The worker says what it offers (the `describeToolbox` activity); the workflow keeps only names
// and read/write kinds, and the model activity turns names back into specs, so big tool schemas
// never enter history. Pure data and functions: the workflow imports this file.
import type { AgentToolSpec } from './agentTools.js';

/** One tool the worker offers, as the workflow sees it. */
export interface ToolboxEntry {
  name: string;
  /** Reads run without approval under `approval: "writes"`; everything else waits. */
  readOnly: boolean;
}

export interface Toolbox {
  tools: ToolboxEntry[];
  /** What could not be offered and why (a bad MCP config, a server that would not start). */
  unavailable: Array<{ server: string; error: string }>;
}

export interface ToolCallOutcome {
  ok: boolean;
  text: string;
}

const pathField = { type: 'string', description: 'Path relative to the workspace root, e.g. "notes/plan.md"' };

export const WORKSPACE_TOOLS: readonly AgentToolSpec[] = [
  {
    name: 'workspace_read',
    description: 'Read a text file in the workspace. Long files are cut; use offset to read on.',
    parameters: {
      type: 'object',
      properties: { path: pathField, offset: { type: 'integer', minimum: 0, description: 'Character offset to start at (default 0)' } },
      required: ['path'],
      additionalProperties: false,
    },
  },
  {
    name: 'workspace_write',
    description: 'Create or overwrite a text file in the workspace (parent folders are created). This is a write and may need approval.',
    parameters: {
      type: 'object',
      properties: { path: pathField, content: { type: 'string', description: 'The whole new content of the file' } },
      required: ['path', 'content'],
      additionalProperties: false,
    },
  },
  {
    name: 'workspace_list',
    description: 'List the files and folders of a workspace folder (default: the root).',
    parameters: {
      type: 'object',
      properties: { path: { ...pathField, description: 'Folder relative to the workspace root (default ".")' } },
      additionalProperties: false,
    },
  },
];
export const WORKSPACE_TOOL_NAMES: readonly string[] = WORKSPACE_TOOLS.map((t) => t.name);
export const WORKSPACE_READS: readonly string[] = ['workspace_read', 'workspace_list'];

/** MCP tools reach the model as `<server>__<tool>`. */
export function isMcpToolName(name: string): boolean {
  return /^[A-Za-z0-9-]+(_[A-Za-z0-9-]+)*__.+$/.test(name);
}

/**
 * Whether a run may use `name`. Patterns are what `start_agent_run` got as `tools`: exact names,
 * `<server>__*` for all tools of an MCP server, or `*` for everything the worker offers.
 */
export function toolAllowed(name: string, patterns: readonly string[]): boolean {
  return patterns.some((p) => p === name || p === '*' || (p.endsWith('__*') && name.startsWith(p.slice(0, -1))));
}

/** Parses the model's JSON arguments into an object, or says what is wrong with them. */
export function parseToolArguments(tool: string, text: string): { ok: true; args: Record<string, unknown> } | { ok: false; error: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(text || '{}');
  } catch {
    return { ok: false, error: `Error: the arguments for ${tool} are not valid JSON. Send a JSON object.` };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return { ok: false, error: `Error: the arguments for ${tool} must be a JSON object.` };
  }
  return { ok: true, args: raw as Record<string, unknown> };
}

export function summarizeToolCall(tool: string, args: Record<string, unknown>): string {
  if (tool === 'workspace_write' && typeof args.path === 'string') {
    const size = typeof args.content === 'string' ? ` (${args.content.length} chars)` : '';
    return `${tool}: write ${args.path}${size}`;
  }
  return `${tool} ${JSON.stringify(args)}`.slice(0, 300);
}
