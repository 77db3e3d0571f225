// Figure 5, cold start: from spawning the CLI (as Claude Desktop does) to `initialize` answered and
// to `tools/list` answered; for the embedded dev server also to the first Temporal-backed answer.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/client';
import { ChildStdioTransport, cliPath, repoRoot } from '../test/support/mcpStdio.js';
import { call, percentiles, spawnCli, type Percentiles, type Stack } from './support.js';

const SAMPLES = 5;
const EMBEDDED_SAMPLES = 3;

export interface ColdStartRow {
  setup: string;
  initializeMs: Percentiles;
  toolsListMs: Percentiles;
  /** Spawn to the first list_runs answer (Temporal reached); only where Temporal starts too. */
  firstTemporalAnswerMs?: Percentiles;
}

interface Timings {
  initialize: number;
  toolsList: number;
  firstTemporalAnswer?: number;
}

async function spawnAndTime(args: string[], env: Record<string, string>, reachTemporal: boolean): Promise<Timings> {
  const t0 = performance.now();
  const child = spawn(process.execPath, [cliPath, ...args], { cwd: repoRoot, env, stdio: ['pipe', 'pipe', 'ignore'] });
  const client = new Client({ name: 'bench-cold-start', version: '1.0.0' });
  try {
    await client.connect(new ChildStdioTransport(child), { timeout: 60_000 });
    const initialize = performance.now() - t0;
    await client.listTools();
    const toolsList = performance.now() - t0;
    if (!reachTemporal) return { initialize, toolsList };
    await call(client, 'list_runs', { limit: 1 });
    return { initialize, toolsList, firstTemporalAnswer: performance.now() - t0 };
  } finally {
    await client.close().catch(() => undefined);
    child.stdin?.end();
    if (child.exitCode === null) await new Promise<void>((resolve) => child.once('exit', () => resolve()));
  }
}

function summarize(setup: string, timings: Timings[]): ColdStartRow {
  const firsts = timings.flatMap((t) => (t.firstTemporalAnswer === undefined ? [] : [t.firstTemporalAnswer]));
  return {
    setup,
    initializeMs: percentiles(timings.map((t) => t.initialize)),
    toolsListMs: percentiles(timings.map((t) => t.toolsList)),
    ...(firsts.length ? { firstTemporalAnswerMs: percentiles(firsts) } : {}),
  };
}

export async function measureColdStart(stack: Stack): Promise<ColdStartRow[]> {
  const rows: ColdStartRow[] = [];

  // A Temporal already up (TEMPORAL_ADDRESS), everything in one process (--no-service).
  const direct: Timings[] = [];
  for (let i = 0; i < SAMPLES; i++) direct.push(await spawnAndTime(['serve', '--no-service'], stack.env('bench-cold'), false));
  rows.push(summarize('dev server up, serve --no-service', direct));

  // The default stdio front, with the data dir's background service (embedded dev server + worker) up.
  const embeddedEnv = (home: string) => {
    const env = stack.env('bench-cold-embedded', { DURABLE_AGENT_HOME: home });
    delete env.TEMPORAL_ADDRESS;
    return env;
  };
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'da-bench-cold-'));
  const stopService = async (dir: string) => {
    const stop = spawnCli(['service', 'stop'], embeddedEnv(dir));
    await new Promise<void>((resolve) => stop.child.once('exit', () => resolve()));
  };
  try {
    await spawnAndTime([], embeddedEnv(home), true); // starts the service and its dev server
    const front: Timings[] = [];
    for (let i = 0; i < SAMPLES; i++) front.push(await spawnAndTime([], embeddedEnv(home), false));
    rows.push(summarize('background service up, default stdio front', front));
  } finally {
    await stopService(home);
  }

  // A fresh data dir: the front starts the service, which starts the embedded dev server.
  const fresh: Timings[] = [];
  for (let i = 0; i < EMBEDDED_SAMPLES; i++) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'da-bench-fresh-'));
    try {
      fresh.push(await spawnAndTime([], embeddedEnv(dir), true));
    } finally {
      await stopService(dir);
    }
  }
  rows.push(summarize('fresh data dir, embedded dev server starting', fresh));
  return rows;
}
