// The tools an agent may call, described for the model. Pure data: the workflow imports it.

export interface AgentToolSpec {
  name: string;
  description: string;
  parameters: Record<string, unknown>;
}

export interface HttpRequestArgs {
  method: string;
  url: string;
  headers?: Record<string, string>;
  body?: string;
}

export const HTTP_REQUEST_TOOL: AgentToolSpec = {
  name: 'http_request',
  description:
    'Send an HTTP request and get { status, headers, body } back. GET and HEAD only read; ' +
    'every other method, and a GET or HEAD with a body or a method-override header, is a write and may need a ' +
    'human approval first. Loopback, private and other non-public addresses are refused unless the operator ' +
    'allowed them. The response body is cut at 64 KiB.',
  parameters: {
    type: 'object',
    properties: {
      method: { type: 'string', description: 'HTTP method, e.g. GET, POST, PUT, DELETE' },
      url: { type: 'string', description: 'Absolute http:// or https:// URL' },
      headers: { type: 'object', additionalProperties: { type: 'string' } },
      body: { type: 'string', description: 'Request body (text); send JSON as a string' },
    },
    required: ['method', 'url'],
    additionalProperties: false,
  },
};

/** Longest single `wait`; the run's own deadline bounds it too. */
export const WAIT_MAX_SECONDS = 30 * 24 * 3600;

export const WAIT_TOOL: AgentToolSpec = {
  name: 'wait',
  description:
    'Pause this run durably, e.g. "check again in 20 minutes", then carry on. Costs nothing while waiting and ' +
    'survives restarts. Ends early if the person who started the run sends a message. Bounded by the run\'s deadline.',
  parameters: {
    type: 'object',
    properties: {
      seconds: { type: 'integer', minimum: 1, maximum: WAIT_MAX_SECONDS, description: 'How long to wait' },
      reason: { type: 'string', description: 'What you are waiting for (shown in the run status)' },
    },
    required: ['seconds', 'reason'],
    additionalProperties: false,
  },
};

/** Runs started by `delegate` may delegate once more; no deeper. */
export const MAX_DELEGATION_DEPTH = 2;
export const DELEGATE_MAX_STEPS = 100;

export const DELEGATE_TOOL: AgentToolSpec = {
  name: 'delegate',
  description:
    'Hand a self-contained sub-task to a sub-agent with its own budget and wait for its answer. The sub-agent ' +
    'is a run of its own (visible to the person who started you) and obeys the same approval rules.',
  parameters: {
    type: 'object',
    properties: {
      task: { type: 'string', description: 'The sub-task, fully described: the sub-agent sees nothing else' },
      tools: { type: 'array', items: { type: 'string' }, description: 'Tool names the sub-agent may use (default: yours)' },
      maxSteps: { type: 'integer', minimum: 1, maximum: DELEGATE_MAX_STEPS, description: 'Model turns for the sub-agent (default 10)' },
    },
    required: ['task'],
    additionalProperties: false,
  },
};

export const AGENT_TOOLS: readonly AgentToolSpec[] = [HTTP_REQUEST_TOOL, WAIT_TOOL, DELEGATE_TOOL];
export const AGENT_TOOL_NAMES: readonly string[] = AGENT_TOOLS.map((t) => t.name);

const READ_METHODS = new Set(['GET', 'HEAD']);

/** Checks the model's arguments; returns an error text the model can act on, or the parsed args. */
export function parseHttpRequestArgs(raw: unknown): { ok: true; args: HttpRequestArgs } | { ok: false; error: string } {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return { ok: false, error: 'arguments must be a JSON object like {"method":"GET","url":"https://…"}' };
  }
  const r = raw as Record<string, unknown>;
  if (typeof r.method !== 'string' || !/^[A-Za-z]+$/.test(r.method)) {
    return { ok: false, error: '"method" must be an HTTP method name such as GET or POST' };
  }
  if (typeof r.url !== 'string' || !/^https?:\/\//i.test(r.url)) {
    return { ok: false, error: '"url" must be an absolute http:// or https:// URL' };
  }
  if (r.headers !== undefined) {
    if (typeof r.headers !== 'object' || r.headers === null || Array.isArray(r.headers)) {
      return { ok: false, error: '"headers" must be an object of string values' };
    }
    for (const v of Object.values(r.headers)) {
      if (typeof v !== 'string') return { ok: false, error: '"headers" values must be strings' };
    }
  }
  if (r.body !== undefined && typeof r.body !== 'string') {
    return { ok: false, error: '"body" must be a string (serialise JSON yourself)' };
  }
  const args: HttpRequestArgs = { method: r.method.toUpperCase(), url: r.url };
  if (r.headers !== undefined) args.headers = r.headers as Record<string, string>;
  if (typeof r.body === 'string') args.body = r.body;
  return { ok: true, args };
}

/** Headers that make a server treat a GET or POST as another method. */
const METHOD_OVERRIDE_HEADERS = new Set(['x-http-method-override', 'x-http-method', 'x-method-override']);

/** The method-override header among the arguments' headers, if any (as the model spelled it). */
export function methodOverrideHeader(args: HttpRequestArgs): string | undefined {
  return Object.keys(args.headers ?? {}).find((h) => METHOD_OVERRIDE_HEADERS.has(h.trim().toLowerCase()));
}

/** A GET/HEAD that is a write in disguise: it carries a body or a method-override header. */
export function isDressedWrite(args: HttpRequestArgs): boolean {
  if (!READ_METHODS.has(args.method.toUpperCase())) return false;
  return (args.body !== undefined && args.body !== '') || methodOverrideHeader(args) !== undefined;
}

/** Whether an http_request may change something: any method but GET/HEAD, or a dressed write. */
export function isWriteRequest(args: HttpRequestArgs): boolean {
  return !READ_METHODS.has(args.method.toUpperCase()) || isDressedWrite(args);
}

export function isWriteCall(tool: string, args: HttpRequestArgs): boolean {
  if (tool === 'http_request') return isWriteRequest(args);
  return true;
}

export function summarizeCall(tool: string, args: HttpRequestArgs): string {
  const body = args.body ? ` with a ${args.body.length}-char body` : '';
  const override = methodOverrideHeader(args);
  const as = override ? ` as ${String(args.headers?.[override]).slice(0, 20)} (${override})` : '';
  return `${tool}: ${args.method} ${args.url}${body}${as}`.slice(0, 300);
}
