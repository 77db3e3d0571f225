/**
 * A real OpenAI-compatible chat-completions server for tests, scripted per test.
 *
 * A run's task text contains a marker `[script:ID]`; the server looks for the marker in any message
 * of the request and serves that script's next step. When a script runs out, its last step repeats.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ToolCallSpec {
  name: string;
  arguments: string | Record<string, unknown>;
  id?: string;
}

export type Step =
  | { content: string; usage?: { prompt_tokens: number; completion_tokens: number } }
  | { toolCalls: ToolCallSpec[]; content?: string | null; usage?: { prompt_tokens: number; completion_tokens: number } }
  | { status: number; body?: Record<string, unknown>; headers?: Record<string, string> }
  | { delayMs: number; then: Step }
  | ((request: any) => Step);

interface ScriptState {
  steps: Step[];
  served: number;
  requests: any[];
}

export interface ModelServer {
  baseUrl: string;
  script(id: string, steps: Step[]): void;
  requests(id: string): any[];
  /** Requests that carried no known script marker. */
  unmatched(): any[];
  close(): Promise<void>;
}

const MARKER = /\[script:([A-Za-z0-9_.:-]+)\]/;

function findScriptId(body: any): string | undefined {
  const messages: any[] = Array.isArray(body?.messages) ? body.messages : [];
  for (const m of messages) {
    const content = m?.content;
    let text = '';
    if (typeof content === 'string') text = content;
    else if (Array.isArray(content)) {
      text = content.map((p: any) => (typeof p === 'string' ? p : (p?.text ?? ''))).join('\n');
    }
    const match = MARKER.exec(text);
    if (match) return match[1];
  }
  return undefined;
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export async function startModelServer(): Promise<ModelServer> {
  const scripts = new Map<string, ScriptState>();
  const unmatched: any[] = [];
  let counter = 0;
  const sockets = new Set<import('node:net').Socket>();

  function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    if (res.destroyed) return;
    const text = JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text).toString(),
      ...headers,
    });
    res.end(text);
  }

  async function serveStep(step: Step, body: any, res: http.ServerResponse): Promise<void> {
    if (typeof step === 'function') return serveStep(step(body), body, res);
    if ('delayMs' in step) {
      await sleep(step.delayMs);
      return serveStep(step.then, body, res);
    }
    if ('status' in step) {
      sendJson(
        res,
        step.status,
        step.body ?? { error: { message: `scripted error ${step.status}`, type: 'test_error', code: null } },
        step.headers ?? {},
      );
      return;
    }
    counter += 1;
    const promptTokens = Math.max(1, Math.ceil(JSON.stringify(body?.messages ?? []).length / 4));
    const created = Math.floor(Date.now() / 1000);
    const model = typeof body?.model === 'string' ? body.model : 'test-model';
    if ('toolCalls' in step) {
      const toolCalls = step.toolCalls.map((tc, i) => ({
        id: tc.id ?? `call_${counter}_${i}`,
        type: 'function' as const,
        function: {
          name: tc.name,
          arguments: typeof tc.arguments === 'string' ? tc.arguments : JSON.stringify(tc.arguments),
        },
      }));
      const completionTokens = 10 * toolCalls.length + 5;
      sendJson(res, 200, {
        id: `chatcmpl-test-${counter}`,
        object: 'chat.completion',
        created,
        model,
        choices: [
          {
            index: 0,
            message: { role: 'assistant', content: step.content ?? null, tool_calls: toolCalls, refusal: null },
            finish_reason: 'tool_calls',
            logprobs: null,
          },
        ],
        usage: step.usage
          ? { ...step.usage, total_tokens: step.usage.prompt_tokens + step.usage.completion_tokens }
          : { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens },
      });
      return;
    }
    const pt = step.usage?.prompt_tokens ?? promptTokens;
    const ct = step.usage?.completion_tokens ?? Math.max(1, Math.ceil(step.content.length / 4));
    sendJson(res, 200, {
      id: `chatcmpl-test-${counter}`,
      object: 'chat.completion',
      created,
      model,
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: step.content, refusal: null },
          finish_reason: 'stop',
          logprobs: null,
        },
      ],
      usage: { prompt_tokens: pt, completion_tokens: ct, total_tokens: pt + ct },
    });
  }

  const server = http.createServer((req, res) => {
    void (async () => {
      try {
        const raw = await readBody(req);
        const path = (req.url ?? '').split('?')[0] ?? '';
        if (req.method === 'GET' && path.endsWith('/models')) {
          sendJson(res, 200, { object: 'list', data: [{ id: 'test-model', object: 'model', created: 0, owned_by: 'test' }] });
          return;
        }
        if (req.method !== 'POST' || !path.endsWith('/chat/completions')) {
          sendJson(res, 404, { error: { message: `no route ${req.method} ${req.url}` } });
          return;
        }
        let body: any;
        try {
          body = JSON.parse(raw);
        } catch {
          sendJson(res, 400, { error: { message: 'body is not JSON' } });
          return;
        }
        const id = findScriptId(body);
        const state = id !== undefined ? scripts.get(id) : undefined;
        if (!state) {
          unmatched.push(body);
          sendJson(res, 400, { error: { message: `no script for marker ${id ?? '(none)'}`, type: 'test_error' } });
          return;
        }
        state.requests.push(body);
        if (state.steps.length === 0) {
          sendJson(res, 500, { error: { message: 'script has no steps' } });
          return;
        }
        const idx = Math.min(state.served, state.steps.length - 1);
        state.served += 1;
        await serveStep(state.steps[idx]!, body, res);
      } catch (err) {
        sendJson(res, 500, { error: { message: `model server error: ${String(err)}` } });
      }
    })();
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    script(id, steps) {
      scripts.set(id, { steps: [...steps], served: 0, requests: [] });
    },
    requests(id) {
      return [...(scripts.get(id)?.requests ?? [])];
    },
    unmatched() {
      return [...unmatched];
    },
    close() {
      return new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      });
    },
  };
}
