/**
 * A small stdio MCP server for tests, spawned by the worker from an `mcpServers` config. It records
 * every tools/call (with the idempotency key from `_meta`) in `$COUNTING_MCP_LOG`, one JSON line each,
 * and applies each key's effect once: `append_line` adds a line to `$COUNTING_MCP_OUT`. Text that
 * starts with "slow" is answered only after 4 s, so a test can kill the worker mid-call.
 */
import fs from 'node:fs';
import { StdioServerTransport } from '@modelcontextprotocol/server/stdio';
import { McpServer } from '@modelcontextprotocol/server';
import { z } from 'zod';

const logFile = process.env.COUNTING_MCP_LOG ?? '/dev/null';
const outFile = process.env.COUNTING_MCP_OUT ?? '/dev/null';
const KEY = 'durable-agent-mcp/idempotencyKey';

function seenKeys(): Set<string> {
  if (!fs.existsSync(logFile)) return new Set();
  return new Set(
    fs
      .readFileSync(logFile, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => (JSON.parse(l) as { key: string }).key),
  );
}

const server = new McpServer({ name: 'counting', version: '1.0.0' });

server.registerTool(
  'append_line',
  {
    title: 'Append a line',
    description: 'Appends a line of text to the shared notes file.',
    inputSchema: z.object({ text: z.string() }),
    annotations: { readOnlyHint: false },
  },
  async ({ text }, ctx) => {
    const raw = (ctx.mcpReq._meta as Record<string, unknown> | undefined)?.[KEY];
    const key = typeof raw === 'string' ? raw : '';
    const firstTime = !seenKeys().has(key);
    fs.appendFileSync(logFile, `${JSON.stringify({ tool: 'append_line', key, text, pid: process.pid })}\n`);
    if (firstTime || !key) fs.appendFileSync(outFile, `${text}\n`);
    if (text.startsWith('slow')) await new Promise((r) => setTimeout(r, 4_000));
    return { content: [{ type: 'text', text: firstTime ? `appended "${text}"` : `already appended "${text}" (same key)` }] };
  },
);

server.registerTool(
  'read_lines',
  {
    title: 'Read the lines',
    description: 'Returns the notes file.',
    inputSchema: z.object({}),
    annotations: { readOnlyHint: true },
  },
  () => ({ content: [{ type: 'text', text: fs.existsSync(outFile) ? fs.readFileSync(outFile, 'utf8') : '' }] }),
);

server.registerTool(
  'fail_always',
  {
    title: 'Always fails',
    description: 'Answers with an error result.',
    inputSchema: z.object({}),
    annotations: { readOnlyHint: true },
  },
  () => ({ isError: true, content: [{ type: 'text', text: 'this tool always fails' }] }),
);

await server.connect(new StdioServerTransport());
// Exit with the worker that spawned us (stdin closes when it dies).
process.stdin.on('end', () => process.exit(0));
