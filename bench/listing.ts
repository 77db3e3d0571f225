// Listing at scale (issue 16): list_runs over stdio with 100, 1,000 and 10,000 closed runs in the
// namespace, about half of them the caller's and half another principal's. The runs are started
// through an HTTP MCP server with no worker and a 1 s time budget, so Temporal itself closes them
// (timed out) and creating 10,000 costs only their starts.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@modelcontextprotocol/client';
import { Client as TemporalClient, Connection } from '@temporalio/client';
import { spawnServer } from '../test/support/mcpStdio.js';
import { call, connectHttp, percentiles, startHttpServer, timed, waitFor, type Percentiles, type Stack } from './support.js';

const LEVELS = [100, 1_000, 10_000];
/** HTTP clients starting runs at once, half of them as the listing caller. */
const STARTERS = 16;
const SAMPLES = 20;
const OTHER_TOKEN = 'bench-other-principal-0123456789';

export interface ListingLevel {
  closedRuns: number;
  firstPageMs: Percentiles;
  nextPageMs: Percentiles;
  /** The next page from a cursor without the server's window hint: how a first read finds the page. */
  unhintedPageMs: Percentiles;
  statusFilterMs: Percentiles;
}

export async function measureListing(stack: Stack): Promise<ListingLevel[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'da-bench-listing-'));
  const tokensFile = path.join(dir, 'tokens.json');
  fs.writeFileSync(tokensFile, JSON.stringify({ other: OTHER_TOKEN }), { mode: 0o600 });
  const starter = await startHttpServer({ ...stack.env('bench-listing'), DURABLE_AGENT_TOKENS_FILE: tokensFile }, ['--no-worker']);
  const lister = await spawnServer({ args: ['serve', '--no-service', '--no-worker'], env: stack.env('bench-listing') });
  const connection = await Connection.connect({ address: stack.dev.address });
  const temporal = new TemporalClient({ connection });
  const starters: Client[] = [];
  try {
    for (let i = 0; i < STARTERS; i++) starters.push(await connectHttp(starter.url, i % 2 ? OTHER_TOKEN : undefined));
    const levels: ListingLevel[] = [];
    let created = 0;
    for (const level of LEVELS) {
      await startClosingRuns(starters, created, level);
      created = level;
      await waitFor(`${level} runs to close and be visible`, async () => {
        const { count } = await temporal.workflow.count("WorkflowType = 'agentWorkflow' AND ExecutionStatus = 'TimedOut'");
        return count >= level;
      }, 600_000);
      levels.push(await measureLevel(lister.client, level));
    }
    return levels;
  } finally {
    await Promise.all(starters.map((c) => c.close()));
    await connection.close();
    await lister.close();
    await starter.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Starts runs `from`…`to - 1` across the starters; each closes by itself after its 1 s budget. */
async function startClosingRuns(starters: Client[], from: number, to: number): Promise<void> {
  let next = from;
  await Promise.all(
    starters.map(async (client) => {
      for (let i = next++; i < to; i = next++) {
        await call(client, 'start_agent_run', { task: `listing at scale ${i}`, approval: 'none', timeoutSeconds: 1 });
      }
    }),
  );
}

async function measureLevel(client: Client, closedRuns: number): Promise<ListingLevel> {
  const first = () => call(client, 'list_runs', { limit: 20 });
  for (let i = 0; i < 3; i++) await first(); // warm-up
  const { nextCursor } = (await first()) as { nextCursor?: string };
  if (!nextCursor) throw new Error(`list_runs gave no second page with ${closedRuns} runs`);
  // The cursor is opaque to callers; here it is opened to drop the hint (`w`) where the next window may begin.
  const { w: _hint, ...bare } = JSON.parse(Buffer.from(nextCursor, 'base64url').toString('utf8')) as Record<string, unknown>;
  const unhinted = Buffer.from(JSON.stringify(bare)).toString('base64url');
  const firstPage: number[] = [];
  const nextPage: number[] = [];
  const unhintedPage: number[] = [];
  const statusFilter: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    firstPage.push(await timed(first));
    nextPage.push(await timed(() => call(client, 'list_runs', { limit: 20, cursor: nextCursor })));
    unhintedPage.push(await timed(() => call(client, 'list_runs', { limit: 20, cursor: unhinted })));
    statusFilter.push(await timed(() => call(client, 'list_runs', { limit: 20, status: 'timed_out' })));
  }
  return {
    closedRuns,
    firstPageMs: percentiles(firstPage),
    nextPageMs: percentiles(nextPage),
    unhintedPageMs: percentiles(unhintedPage),
    statusFilterMs: percentiles(statusFilter),
  };
}
