// Runs as resources: `run://{runId}` (the RunStatus as JSON) and `run://{runId}/history` (the
// timeline), with the caller's recent runs in resources/list. Reads go through the run service, so
// they follow the tools' rules: only the caller's runs, credentials redacted.
import { ResourceTemplate, type McpServer, type ReadResourceResult, type ServerContext } from '@modelcontextprotocol/server';
import { isClosedStatus } from '../../shared/contract.js';
import { callerOf } from '../caller.js';
import { isModernRequest } from '../clientCapabilities.js';
import type { Runs } from '../runs.js';
import { UnknownRunError, UserError } from '../toolResult.js';
import { ProtocolError, ProtocolErrorCode, ResourceNotFoundError } from '@modelcontextprotocol/server';

export const RUN_URI = 'run://{runId}';
export const RUN_HISTORY_URI = 'run://{runId}/history';
const JSON_MIME = 'application/json';
/** resources/list shows this many of the caller's most recent runs. */
const LISTED_RUNS = 50;
/** The history resource holds the first this-many entries of the timeline (get_run_history pages on). */
const HISTORY_ENTRIES = 500;
/** A closed run never changes: a client may keep its read this long. */
const CLOSED_TTL_MS = 3_600_000;

/** The runId in a run:// URI, and whether it names the history. */
export function parseRunUri(uri: string): { runId: string; history: boolean } | undefined {
  const match = /^run:\/\/([^/?#]{1,200})(\/history)?$/.exec(uri);
  if (!match) return undefined;
  try {
    return { runId: decodeURIComponent(match[1]!), history: match[2] !== undefined };
  } catch {
    return undefined;
  }
}

export function registerRunResources(server: McpServer, runs: Runs): void {
  // The history template first: the SDK tries templates in order.
  server.registerResource(
    'run-history',
    new ResourceTemplate(RUN_HISTORY_URI, { list: undefined }),
    {
      title: 'Run timeline',
      description: 'A run\'s timeline from its durable history: model turns, tool calls, retries, approvals, messages (JSON)',
      mimeType: JSON_MIME,
    },
    (uri, _vars, ctx) => readRun(runs, uri.href, ctx),
  );
  server.registerResource(
    'run',
    new ResourceTemplate(RUN_URI, {
      list: async (ctx) => {
        const page = await asResourceError('run://', () => runs.list({ limit: LISTED_RUNS }, callerOf(server, ctx)));
        return {
          resources: page.runs.map((run) => ({
            uri: `run://${encodeURIComponent(run.runId)}`,
            name: run.runId,
            title: run.task.slice(0, 80) || run.runId,
            description: `${run.status}, started ${run.startedAt}`,
            mimeType: JSON_MIME,
          })),
        };
      },
    }),
    {
      title: 'Run status',
      description: 'A run\'s current status as JSON (the same as get_run_status); subscribe to hear of each change',
      mimeType: JSON_MIME,
    },
    (uri, _vars, ctx) => readRun(runs, uri.href, ctx),
  );

  async function readRun(runs: Runs, uri: string, ctx: ServerContext): Promise<ReadResourceResult> {
    const parsed = parseRunUri(uri);
    if (!parsed) throw new ResourceNotFoundError(uri);
    const caller = callerOf(server, ctx);
    const run = await asResourceError(uri, () => runs.status(parsed.runId, caller));
    const body = parsed.history ? await asResourceError(uri, () => runs.history(parsed.runId, undefined, HISTORY_ENTRIES, caller)) : run;
    // 2026-07-28 asks for cache hints on every read: a closed run can be kept, an open one not.
    const hints = isModernRequest(ctx) ? { ttlMs: isClosedStatus(run.status) ? CLOSED_TTL_MS : 0, cacheScope: 'private' as const } : {};
    return { contents: [{ uri, mimeType: JSON_MIME, text: JSON.stringify(body, null, 2) }], ...hints };
  }
}

/** Run-service errors as resource errors: an unknown (or another's) run is "not found". */
export async function asResourceError<T>(uri: string, body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (err) {
    if (err instanceof UnknownRunError) throw new ResourceNotFoundError(uri);
    if (err instanceof UserError) throw new ProtocolError(ProtocolErrorCode.InternalError, err.message);
    throw err;
  }
}
