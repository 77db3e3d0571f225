/**
 * The SDK's v2 client as a tasks-capable host: form elicitation answered per run, the tasks extension
 * declared (2026-07-28) or `tasks` (2025-11-25), and the task calls the tests make.
 */
import assert from 'node:assert/strict';
import {
  Client,
  StreamableHTTPClientTransport,
  type ClientOptions,
  type JSONRPCMessage,
  type Transport as McpTransport,
} from '@modelcontextprotocol/client';
import { z } from 'zod';
import { recordIncoming, type Era } from './eraClients.js';
import { spawnServer, type SpawnedServer } from './mcpStdio.js';
import { envelope, MODERN } from './rawRpc.js';
import { sleep, waitFor } from './wait.js';

export const TASKS_EXT = 'io.modelcontextprotocol/tasks';
export const RELATED_TASK = 'io.modelcontextprotocol/related-task';

const Loose = z.looseObject({});

export type FormAnswer = { action: 'accept'; content: { decision: 'approve' | 'reject'; comment?: string } } | { action: 'decline' | 'cancel' };
/** What the person answers to a form (the test sets one per run; without one the form is cancelled). */
export type FormAnswerer = (params: { message: string; requestedSchema: unknown }) => FormAnswer | Promise<FormAnswer>;

export type TaskTransport = 'stdio' | 'http';

export interface TaskConn {
  transport: TaskTransport;
  era: Era;
  name: string;
  client: Client;
  /** The client's own transport, for the one message its SDK cannot take yet (a task answer). */
  wire: McpTransport;
  incoming: JSONRPCMessage[];
  /** Forms this client was shown, in order. */
  forms: { message: string; requestedSchema: any; meta?: any }[];
  /** Answers by run: the form's message names the run. */
  answerFor: Map<string, FormAnswerer>;
  stdio?: SpawnedServer;
  close(): Promise<void>;
}

export function taskClientOptions(era: Era, tasks = true): ClientOptions {
  const capabilities = {
    elicitation: { form: {} },
    ...(era === 'modern' && tasks ? { extensions: { [TASKS_EXT]: {} } } : {}),
    ...(era === 'legacy' ? { tasks: {} } : {}),
  };
  return era === 'modern' ? { capabilities, versionNegotiation: { mode: { pin: MODERN } } } : { capabilities };
}

/** Every form the client is shown is recorded and answered by its run's answerer. */
function answerForms(conn: TaskConn): void {
  conn.client.setRequestHandler('elicitation/create', async (request) => {
    const params = request.params as { message: string; requestedSchema: unknown; _meta?: unknown };
    conn.forms.push({ message: params.message, requestedSchema: params.requestedSchema, meta: params._meta });
    const runId = /run (\S+) asks/.exec(params.message)?.[1] ?? '';
    const answerer = conn.answerFor.get(runId);
    return (answerer ? await answerer(params) : { action: 'cancel' }) as never;
  });
}

export interface ConnectOptions {
  /** stdio: the server's environment. */
  env?: Record<string, string | undefined>;
  /** http: the endpoint and its bearer token. */
  url?: string;
  token?: string;
}

export async function connectTaskClient(transport: TaskTransport, era: Era, opts: ConnectOptions): Promise<TaskConn> {
  const name = `tasks-${transport}-${era}`;
  const base = { transport, era, name, forms: [], answerFor: new Map<string, FormAnswerer>() };
  let conn: TaskConn;
  if (transport === 'stdio') {
    const stdio = await spawnServer({ args: ['--no-service', '--no-worker'], env: opts.env ?? {}, clientInfo: { name, version: '1.0.0' }, clientOptions: taskClientOptions(era) });
    conn = { ...base, client: stdio.client, wire: stdio.transport, incoming: recordIncoming(stdio.transport), stdio, close: () => stdio.close() };
  } else {
    const client = new Client({ name, version: '1.0.0' }, taskClientOptions(era));
    const t = new StreamableHTTPClientTransport(new URL(opts.url!), { requestInit: { headers: { Authorization: `Bearer ${opts.token}` } } });
    await client.connect(t, { timeout: 30_000 });
    conn = { ...base, client, wire: t, incoming: recordIncoming(t), close: () => client.close() };
  }
  answerForms(conn);
  return conn;
}

export const taskRequest = (conn: TaskConn, method: string, params: Record<string, unknown>, timeout = 60_000): Promise<any> =>
  conn.client.request({ method, params } as never, Loose, { timeout }) as Promise<any>;

let rawIds = 0;
/**
 * start_agent_run as a task: `params.task` (2025) through the client; on 2026-07-28 the SDK's client
 * refuses `resultType: "task"` (it has no tasks extension yet), so the same request, with the envelope
 * the client would send, goes out on the client's own connection and the answer is read off it.
 */
export async function startTask(conn: TaskConn, args: Record<string, unknown>): Promise<any> {
  if (conn.era === 'legacy') return taskRequest(conn, 'tools/call', { name: 'start_agent_run', arguments: args, task: {} });
  const id = `raw-${process.pid}-${++rawIds}`;
  const meta = envelope(conn.name, { 'io.modelcontextprotocol/clientCapabilities': { elicitation: { form: {} }, extensions: { [TASKS_EXT]: {} } } });
  await conn.wire.send({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'start_agent_run', arguments: args, _meta: meta } } as JSONRPCMessage);
  let answer: any;
  await waitFor(`${conn.name}: the answer to ${id}`, () => (answer = conn.incoming.find((m: any) => m.id === id)) !== undefined, 60_000);
  assert.equal(answer.error, undefined, JSON.stringify(answer));
  return answer.result;
}

export const taskOf = (conn: TaskConn, created: any): any => (conn.era === 'modern' ? created : created.task);

export async function pollTask(conn: TaskConn, taskId: string, done: (t: any) => boolean, what: string, ms = 40_000): Promise<any> {
  const deadline = Date.now() + ms;
  for (;;) {
    const task = await taskRequest(conn, 'tasks/get', { taskId });
    if (done(task)) return task;
    if (Date.now() > deadline) assert.fail(`${conn.name}: task ${taskId} never became ${what}; last ${JSON.stringify(task)}`);
    await sleep(250);
  }
}
