// The run app (MCP Apps): one self-contained HTML page at ui://durable-agent/run that shows a run
// live and acts on it through the tools, plus the app-only tool it polls. Tools point at it
// through `_meta.ui.resourceUri` (see meta.ts); hosts without Apps never read any of this.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { McpServer } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { callerOf } from '../caller.js';
import type { Runs } from '../runs.js';
import { runIdField, RunStatusSchema } from '../schemas.js';
import { HistoryEntrySchema } from '../tools/getRunHistory.js';
import { guard, ok } from '../toolResult.js';
import { appOnlyToolMeta, RUN_APP_MIME_TYPE, RUN_APP_URI } from './meta.js';

export { RUN_APP_URI, RUN_APP_MIME_TYPE } from './meta.js';

/** Written next to this module by `npm run build` (scripts/build-app.ts). */
export const RUN_APP_HTML_PATH = path.join(path.dirname(fileURLToPath(import.meta.url)), 'run-app.html');

/** Most timeline entries one poll returns; the app asks again for the rest. */
const VIEW_HISTORY_PAGE = 200;

let html: string | undefined;
function appHtml(): string {
  // Read once, on the first resources/read: the first answer of the server never waits for it.
  if (html === undefined) {
    try {
      html = fs.readFileSync(RUN_APP_HTML_PATH, 'utf8');
    } catch (err) {
      throw new Error(`the run app is not built (${err instanceof Error ? err.message : String(err)}): run npm run build`);
    }
  }
  return html;
}

export function registerApp(server: McpServer, runs: Runs): void {
  // What ext-apps' registerAppResource does, plus a cache hint (its config type has none).
  server.registerResource(
    'Durable Agent run',
    RUN_APP_URI,
    {
      title: 'Durable Agent run',
      description: 'Shows a run live (status, steps, timeline, sub-agents, result) and approves, rejects, cancels and messages it.',
      mimeType: RUN_APP_MIME_TYPE,
      // Everything is inlined: the app needs no network origin at all (the default, strictest CSP).
      _meta: { ui: { csp: {}, prefersBorder: true } },
      // The page changes only with a new version of the server.
      cacheHint: { ttlMs: 60 * 60_000, cacheScope: 'public' },
    },
    (uri) => ({
      contents: [
        {
          uri: uri.toString(),
          mimeType: RUN_APP_MIME_TYPE,
          text: appHtml(),
          _meta: { ui: { csp: {}, prefersBorder: true } },
        },
      ],
    }),
  );

  // What the app polls while a run is open: status and the new part of the timeline in one call,
  // with the same ownership check and redaction as get_run_status and get_run_history.
  server.registerTool(
    'get_run_view',
    {
      title: 'Run view (for the run app)',
      description:
        'For the run app only: the status of a run plus its timeline entries from index `since` on (at most 200). ' +
        'Models should use get_run_status and get_run_history.',
      inputSchema: z.strictObject({
        runId: runIdField,
        since: z.number().int().min(0).max(10_000_000).optional().describe('Timeline entries the app already has (default 0)'),
      }),
      outputSchema: z.object({
        status: RunStatusSchema,
        entries: z.array(HistoryEntrySchema),
        /** Timeline entries the app has after this answer: pass it back as `since`. */
        next: z.number().int(),
        /** More entries are ready beyond `next`. */
        more: z.boolean(),
      }),
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
      _meta: appOnlyToolMeta(),
    },
    ({ runId, since }, ctx) =>
      guard('get_run_view', async () => {
        const caller = callerOf(server, ctx);
        const from = since ?? 0;
        // Status first, then the timeline: once the status says closed, the timeline read after it has
        // every entry up to the close, so the app's last poll misses nothing.
        const status = await runs.status(runId, caller);
        // get_run_history's cursor is the index into the timeline ("h<index>").
        const page = await runs.history(runId, from > 0 ? `h${from}` : undefined, VIEW_HISTORY_PAGE, caller);
        return ok({ status, entries: page.entries, next: from + page.entries.length, more: page.nextCursor !== undefined });
      }),
  );
}
