/**
 * A Streamable HTTP MCP server for tests (stateless: one transport per request). Every request must
 * carry `Authorization: Bearer <token>`; tool calls are recorded with their `_meta` idempotency key.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { NodeStreamableHTTPServerTransport } from '@modelcontextprotocol/node';
import { McpServer } from '@modelcontextprotocol/server';
import { z } from 'zod';

export interface HttpMcpServer {
  url: string;
  calls: Array<{ tool: string; key: string; args: unknown }>;
  unauthorized: number;
  close(): Promise<void>;
}

export async function startHttpMcpServer(token: string): Promise<HttpMcpServer> {
  const state: HttpMcpServer = { url: '', calls: [], unauthorized: 0, close: async () => undefined };
  const make = () => {
    const server = new McpServer({ name: 'remote', version: '1.0.0' });
    server.registerTool(
      'lookup',
      { title: 'Look something up', description: 'Finds an entry by name.', inputSchema: z.object({ q: z.string() }), annotations: { readOnlyHint: true } },
      ({ q }, ctx) => {
        const key = (ctx.mcpReq._meta as Record<string, unknown> | undefined)?.['durable-agent-mcp/idempotencyKey'];
        state.calls.push({ tool: 'lookup', key: typeof key === 'string' ? key : '', args: { q } });
        return { content: [{ type: 'text', text: `found ${q} over HTTP` }] };
      },
    );
    return server;
  };
  const srv = http.createServer((req, res) => {
    if (req.headers.authorization !== `Bearer ${token}`) {
      state.unauthorized++;
      res.writeHead(401).end();
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const server = make();
      const transport = new NodeStreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
      res.on('close', () => {
        void transport.close();
        void server.close();
      });
      server
        .connect(transport)
        .then(() => transport.handleRequest(req, res, text ? JSON.parse(text) : undefined))
        .catch(() => res.writeHead(500).end());
    });
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}/mcp`;
  state.close = () => new Promise<void>((resolve) => srv.close(() => resolve()));
  return state;
}
