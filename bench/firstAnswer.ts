// Figure 7, first answer: from spawning the CLI to its first answer over stdio, as clients open it.
// Claude Code opens with `server/discover` at 2026-07-28 (the `_meta` envelope on every request),
// Claude Desktop, Cursor and VS Code with `initialize` 2025-11-25, `notifications/initialized` and
// `tools/list`. Raw JSON-RPC lines on stdin, replies timed as they arrive on stdout: no client library,
// so no client's own overhead is in the figure. Two situations: the data dir's background service
// already running (started once with `service start`), and a fresh data dir, where the front also
// starts the service (and the service the embedded dev server) while it answers.
//
// FIRST_ANSWER_SAMPLES (default 20 per opening and situation) and FIRST_ANSWER_CLI (another build's
// dist/src/cli.js, to measure the code before a change) change what is measured.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cliPath, repoRoot } from '../test/support/mcpStdio.js';
import { measureImports, type ImportTiming } from './importTiming.js';
import { percentiles, sleep, type Percentiles, type Stack } from './support.js';

export type Opening = 'discover' | 'initialize';

export const OPENINGS: Record<Opening, string> = {
  discover: 'server/discover 2026-07-28',
  initialize: 'initialize 2025-11-25',
};

export interface FirstAnswerRow {
  situation: 'service up' | 'fresh data dir';
  opening: Opening;
  /** Spawn → the first answer the client can go on with (the discover or initialize result). */
  firstAnswerMs: Percentiles;
  /** Spawn → the tools/list answer (sent as soon as the first answer came). */
  toolsListMs: Percentiles;
  /** Spawn → the first tools/call (list_runs) answered: Temporal loaded and reached. */
  firstToolCallMs: Percentiles;
  /** `server/discover` answered with an error (a server without 2026-07-28): spawn → that error; the client then falls back to initialize. */
  discoverErrorMs?: Percentiles;
  raw: { firstAnswer: number[]; toolsList: number[]; firstToolCall: number[] };
}

export interface FirstAnswerResult {
  cli: string;
  samples: number;
  rows: FirstAnswerRow[];
  /** What the first answer waits for: Node's start and the front's imports (this build only). */
  imports?: ImportTiming;
}

interface Sample {
  firstAnswer: number;
  toolsList: number;
  firstToolCall: number;
  discoverError?: number;
}

const STEP_TIMEOUT_MS = 60_000;
const EXIT_TIMEOUT_MS = 15_000;
/** Let the previous front's exit and the service's bookkeeping finish before the next spawn. */
const SETTLE_MS = 250;

const CLIENT_INFO = { name: 'bench-first-answer', version: '1.0.0' };
const META_2026 = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientInfo': CLIENT_INFO,
  'io.modelcontextprotocol/clientCapabilities': {},
};

interface Answer {
  at: number;
  message: { id?: unknown; result?: Record<string, unknown>; error?: { code: number; message: string } };
}

/** A spawned CLI speaking raw JSON-RPC lines; every answer is stamped when its line arrives. */
class RawSession {
  private readonly waiting = new Map<number, (a: Answer) => void>();
  private readonly early = new Map<number, Answer>();
  private buffer = '';
  private stderr = '';
  private failure: Error | undefined;
  readonly exited: Promise<void>;

  constructor(readonly child: ChildProcess) {
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    child.stdout!.on('data', (chunk: Buffer) => {
      const at = performance.now();
      this.buffer += chunk.toString('utf8');
      let nl: number;
      while ((nl = this.buffer.indexOf('\n')) >= 0) {
        const line = this.buffer.slice(0, nl).replace(/\r$/, '');
        this.buffer = this.buffer.slice(nl + 1);
        if (!line.trim()) continue;
        let message: Answer['message'];
        try {
          message = JSON.parse(line) as Answer['message'];
        } catch {
          this.failure ??= new Error(`stdout carried a line that is not JSON-RPC: ${line.slice(0, 200)}`);
          continue;
        }
        if (typeof message.id !== 'number') continue; // notifications (log messages) are not answers
        const answer = { at, message };
        const resolve = this.waiting.get(message.id);
        if (resolve) {
          this.waiting.delete(message.id);
          resolve(answer);
        } else this.early.set(message.id, answer);
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString('utf8')).slice(-4_000);
    });
    child.stdin!.on('error', () => undefined); // the process may be gone; its exit says why
  }

  send(message: Record<string, unknown>): void {
    this.child.stdin!.write(`${JSON.stringify({ jsonrpc: '2.0', ...message })}\n`);
  }

  async request(id: number, method: string, params: Record<string, unknown>): Promise<Answer> {
    this.send({ id, method, params });
    return this.answer(id, method);
  }

  answer(id: number, what: string): Promise<Answer> {
    const early = this.early.get(id);
    if (early) return Promise.resolve(this.checked(early));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(this.error(`no answer to ${what} within ${STEP_TIMEOUT_MS / 1000} s`));
      }, STEP_TIMEOUT_MS);
      const onExit = () => reject(this.error(`the server exited before answering ${what}`));
      this.child.once('exit', onExit);
      this.waiting.set(id, (a) => {
        clearTimeout(timer);
        this.child.off('exit', onExit);
        try {
          resolve(this.checked(a));
        } catch (err) {
          reject(err instanceof Error ? err : new Error(String(err)));
        }
      });
    });
  }

  private checked(a: Answer): Answer {
    if (this.failure) throw this.error(this.failure.message);
    return a;
  }

  error(text: string): Error {
    return new Error(`${text}${this.stderr ? `; stderr: ${this.stderr.trim().slice(-600)}` : ''}`);
  }

  /** Closes stdin, as clients do, and waits for the process to go (SIGKILL after 15 s). */
  async end(): Promise<void> {
    this.child.stdin!.end();
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const timer = setTimeout(() => this.child.kill('SIGKILL'), EXIT_TIMEOUT_MS);
    await this.exited;
    clearTimeout(timer);
  }
}

function resultOf(a: Answer, what: string, session: RawSession): Record<string, unknown> {
  if (a.message.error) throw session.error(`${what} failed: ${a.message.error.code} ${a.message.error.message}`);
  if (!a.message.result) throw session.error(`${what}: an answer without a result`);
  return a.message.result;
}

/** One client session: spawn, open as `opening`, tools/list, list_runs, close stdin, wait for the exit. */
async function timeSession(cli: string, env: Record<string, string>, opening: Opening): Promise<Sample> {
  const t0 = performance.now();
  const child = spawn(process.execPath, [cli], { cwd: repoRoot, env, stdio: ['pipe', 'pipe', 'pipe'] });
  const session = new RawSession(child);
  try {
    let era: Opening = opening;
    let discoverError: number | undefined;
    let first: Answer | undefined;
    if (opening === 'discover') {
      first = await session.request(1, 'server/discover', { _meta: META_2026 });
      if (first.message.error) {
        // A server without 2026-07-28 (-32601): fall back to initialize, as Claude Code does.
        discoverError = first.at - t0;
        era = 'initialize';
      } else {
        const versions = resultOf(first, 'server/discover', session).supportedVersions;
        if (!Array.isArray(versions) || !versions.includes('2026-07-28')) throw session.error(`server/discover: supportedVersions ${JSON.stringify(versions)}`);
      }
    }
    if (era === 'initialize') {
      first = await session.request(2, 'initialize', { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: CLIENT_INFO });
      const version = resultOf(first, 'initialize', session).protocolVersion;
      if (version !== '2025-11-25') throw session.error(`initialize: protocolVersion ${String(version)}`);
      session.send({ method: 'notifications/initialized' });
    }
    if (!first) throw session.error('no first answer');
    const firstAnswer = first.at - t0;
    const meta = era === 'discover' ? { _meta: META_2026 } : {};
    const list = await session.request(3, 'tools/list', meta);
    const tools = resultOf(list, 'tools/list', session).tools;
    if (!Array.isArray(tools) || !tools.some((t: { name?: unknown }) => t.name === 'list_runs')) throw session.error('tools/list: no list_runs');
    const toolsList = list.at - t0;
    const called = await session.request(4, 'tools/call', { name: 'list_runs', arguments: { limit: 1 }, ...meta });
    if (resultOf(called, 'list_runs', session).isError) throw session.error(`list_runs answered with an error: ${JSON.stringify(called.message.result)}`);
    const firstToolCall = called.at - t0;
    return { firstAnswer, toolsList, firstToolCall, ...(discoverError === undefined ? {} : { discoverError }) };
  } finally {
    await session.end();
  }
}

/** Runs a CLI command to its end (`service start`, `service stop`); throws on a non-zero exit. */
async function runCli(cli: string, args: string[], env: Record<string, string>): Promise<void> {
  const child = spawn(process.execPath, [cli, ...args], { cwd: repoRoot, env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString('utf8')).slice(-2_000)));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`${args.join(' ')} exited with ${code}: ${stderr.trim()}`);
}

function summarize(situation: FirstAnswerRow['situation'], opening: Opening, samples: Sample[]): FirstAnswerRow {
  const round = (v: number) => Math.round(v * 10) / 10;
  const errors = samples.flatMap((s) => (s.discoverError === undefined ? [] : [s.discoverError]));
  return {
    situation,
    opening,
    firstAnswerMs: percentiles(samples.map((s) => s.firstAnswer)),
    toolsListMs: percentiles(samples.map((s) => s.toolsList)),
    firstToolCallMs: percentiles(samples.map((s) => s.firstToolCall)),
    ...(errors.length ? { discoverErrorMs: percentiles(errors) } : {}),
    raw: {
      firstAnswer: samples.map((s) => round(s.firstAnswer)),
      toolsList: samples.map((s) => round(s.toolsList)),
      firstToolCall: samples.map((s) => round(s.firstToolCall)),
    },
  };
}

/** Both openings, interleaved (alternating which goes first), `samples` of each. */
async function interleaved(samples: number, one: (opening: Opening) => Promise<Sample>): Promise<Record<Opening, Sample[]>> {
  const out: Record<Opening, Sample[]> = { discover: [], initialize: [] };
  for (let i = 0; i < samples; i++) {
    const order: Opening[] = i % 2 === 0 ? ['discover', 'initialize'] : ['initialize', 'discover'];
    for (const opening of order) {
      out[opening].push(await one(opening));
      await sleep(SETTLE_MS);
    }
  }
  return out;
}

export async function measureFirstAnswer(stack: Stack): Promise<FirstAnswerResult> {
  const cli = process.env.FIRST_ANSWER_CLI ? path.resolve(process.env.FIRST_ANSWER_CLI) : cliPath;
  const samples = Math.max(1, Number(process.env.FIRST_ANSWER_SAMPLES ?? 20) || 20);
  // The embedded dev server, as a user without TEMPORAL_ADDRESS has it.
  const base = stack.env('bench-first-answer');
  fs.rmSync(base.DURABLE_AGENT_HOME!, { recursive: true, force: true });
  delete base.TEMPORAL_ADDRESS;
  const envFor = (home: string) => ({ ...base, DURABLE_AGENT_HOME: home });
  const rows: FirstAnswerRow[] = [];

  // (a) The background service already running: every front connects to it.
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'da-bench-first-'));
  try {
    await runCli(cli, ['service', 'start'], envFor(home));
    await timeSession(cli, envFor(home), 'initialize'); // warm-up: the worker polls, the page cache holds the CLI
    await sleep(1_000);
    const up = await interleaved(samples, (opening) => timeSession(cli, envFor(home), opening));
    for (const opening of ['discover', 'initialize'] as const) rows.push(summarize('service up', opening, up[opening]));
  } finally {
    await runCli(cli, ['service', 'stop'], envFor(home)).catch(() => undefined);
    fs.rmSync(home, { recursive: true, force: true });
  }

  // (b) A fresh data dir: the front also starts the service, which starts the embedded dev server.
  // list_runs waits for both, so each sample ends with the service up; it is stopped before the next.
  const fresh = await interleaved(samples, async (opening) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'da-bench-first-fresh-'));
    try {
      return await timeSession(cli, envFor(dir), opening);
    } finally {
      await runCli(cli, ['service', 'stop'], envFor(dir)).catch(() => undefined);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
  for (const opening of ['discover', 'initialize'] as const) rows.push(summarize('fresh data dir', opening, fresh[opening]));
  const relative = path.relative(repoRoot, cli);
  // The import timing loads this build's modules: it says nothing about another build's CLI.
  const imports = cli === cliPath ? await measureImports(10) : undefined;
  return { cli: relative.startsWith('..') ? cli : relative, samples, rows, ...(imports ? { imports } : {}) };
}
