/** The SDK's own v2 client in either protocol era, and a record of what it receives. */
import { Client, StreamableHTTPClientTransport, type ClientOptions, type JSONRPCMessage, type Transport } from '@modelcontextprotocol/client';

export type Era = 'modern' | 'legacy';

/** Client options for an era: pinned to 2026-07-28 (no fallback), or the default legacy handshake. */
export function eraClientOptions(era: Era): ClientOptions {
  return era === 'modern' ? { capabilities: {}, versionNegotiation: { mode: { pin: '2026-07-28' } } } : { capabilities: {} };
}

/** Connects a client of `era` to a Streamable HTTP endpoint with a bearer token. */
export async function connectHttpClient(url: string, token: string, era: Era, name: string): Promise<{ client: Client; transport: Transport }> {
  const client = new Client({ name, version: '1.0.0' }, eraClientOptions(era));
  const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { Authorization: `Bearer ${token}` } } });
  await client.connect(transport, { timeout: 30_000 });
  return { client, transport };
}

/**
 * Every message the connected client receives from now on (responses and notifications), in order:
 * wraps the handler the client installed on its transport.
 */
export function recordIncoming(transport: Transport): JSONRPCMessage[] {
  const seen: JSONRPCMessage[] = [];
  const deliver = transport.onmessage;
  if (!deliver) throw new Error('connect the client before recording what it receives');
  transport.onmessage = ((message: JSONRPCMessage, extra?: unknown) => {
    seen.push(message);
    (deliver as (m: JSONRPCMessage, e?: unknown) => void)(message, extra);
  }) as Transport['onmessage'];
  return seen;
}
