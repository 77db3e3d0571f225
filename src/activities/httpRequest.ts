// The agent's http_request tool. Its arguments come from the model, so they are hostile: every hop
// is checked against the address policy (addressPolicy.ts) on its literal host and on every address
// DNS returns for it (the lookup the connection itself uses, so rebinding does not help). It caps
// what it reads and sends a stable Idempotency-Key so a retried write is recognisable.
import { ApplicationFailure, Context } from '@temporalio/activity';
import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { isWriteRequest } from '../shared/agentTools.js';
import { isCredentialName } from '../shared/credentials.js';
import { checkDestination, isLocalhostName, LOCALHOST, type HttpPolicy } from './addressPolicy.js';
import type { HttpRequestInput, HttpToolResult } from './types.js';

export type { HttpPolicy } from './addressPolicy.js';

export const HTTP_BODY_MAX_BYTES = 64 * 1024;
export const HTTP_REQUEST_TIMEOUT_MS = 30_000;
const MAX_REDIRECTS = 5;
const MAX_HEADERS = 50;
const MAX_HEADER_VALUE = 1024;

/** A destination the policy refuses; never retried. */
export class RequestRefused extends Error {}

type Resolve = (hostname: string, options: LookupAllOptions, callback: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void) => void;

/** The lookup every connection uses: it refuses a name if any address DNS returns for it is refused. */
export function guardedLookup(policy: HttpPolicy, resolve: Resolve = dnsLookup): LookupFunction {
  return (hostname, options, callback) => {
    const answer = (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => {
      if (err) return callback(err, '', 4);
      // Every address, not just the one used: a mixed answer must not sneak a refused one in.
      for (const a of addresses) {
        const refusal = checkDestination(policy, hostname, a.address);
        if (refusal) return callback(new RequestRefused(refusal), '', 4);
      }
      if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
      const first = addresses[0];
      if (!first) return callback(new Error(`no address for ${hostname}`), '', 4);
      callback(null, first.address, first.family);
    };
    // localhost names are loopback by definition (RFC 6761); DNS is not asked.
    if (isLocalhostName(hostname)) return answer(null, [{ address: LOCALHOST, family: 4 }]);
    resolve(hostname, { ...options, all: true }, answer);
  };
}

export function createHttpRequest(policy: HttpPolicy) {
  const lookup = guardedLookup(policy);
  return async function httpRequest(input: HttpRequestInput): Promise<HttpToolResult> {
    const ctx = Context.current();
    const beat = setInterval(() => ctx.heartbeat(), 2_000);
    // A write is never re-sent to another origin: not even an approved POST to A may reach B.
    const write = isWriteRequest(input.args);
    try {
      let url = new URL(input.args.url);
      let method = input.args.method.toUpperCase();
      let body = input.args.body;
      let headers: Record<string, string> = { ...(input.args.headers ?? {}) };
      for (let hop = 0; ; hop++) {
        const at = hop > 0 ? `redirect to ${url.href}: ` : '';
        const refusal = checkDestination(policy, url.hostname);
        if (refusal) throw new RequestRefused(at + refusal);
        let response: HttpToolResult;
        try {
          response = await send(url, method, headers, input.idempotencyKey, body, lookup, ctx.cancellationSignal);
        } catch (err) {
          throw err instanceof RequestRefused ? new RequestRefused(at + err.message) : err;
        }
        const location = response.headers['location'];
        if (response.status < 300 || response.status >= 400 || !location || hop >= MAX_REDIRECTS) {
          if (response.status >= 500 || response.status === 429) {
            // Retryable for Temporal; after the last attempt the workflow tells the model.
            throw ApplicationFailure.retryable(
              `${method} ${url.href} answered HTTP ${response.status}: ${response.body.slice(0, 200)}`,
              `HttpStatus${response.status}`,
            );
          }
          return response;
        }
        const next = new URL(location, url);
        const crossOrigin = next.origin !== url.origin;
        // The 3xx itself is the answer; the model may ask again, gated again.
        if (write && crossOrigin) return response;
        if (crossOrigin) headers = withoutCredentials(headers);
        // 307/308 keep method and body; the others become a GET (HEAD stays HEAD) without a body.
        if (response.status !== 307 && response.status !== 308) {
          if (method !== 'HEAD') method = 'GET';
          body = undefined;
          headers = withoutBodyHeaders(headers);
        }
        url = next;
      }
    } catch (err) {
      if (err instanceof ApplicationFailure) throw err;
      const message = err instanceof Error ? err.message : String(err);
      if (err instanceof RequestRefused) throw ApplicationFailure.nonRetryable(`request refused: ${message}`, 'RequestRefused');
      if (err instanceof TypeError) throw ApplicationFailure.nonRetryable(`invalid request: ${message}`, 'BadRequest');
      throw ApplicationFailure.retryable(`request failed: ${message}`, 'HttpTransportError');
    } finally {
      clearInterval(beat);
    }
  };
}

function withoutCredentials(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !isCredentialName(name) && name.toLowerCase() !== 'host'));
}

function withoutBodyHeaders(headers: Record<string, string>): Record<string, string> {
  const drop = /^(content-|x-http-method-override$|x-http-method$|x-method-override$)/i;
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !drop.test(name.trim())));
}

function send(
  url: URL,
  method: string,
  given: Record<string, string>,
  idempotencyKey: string,
  body: string | undefined,
  lookup: LookupFunction,
  signal: AbortSignal,
): Promise<HttpToolResult> {
  const transport = url.protocol === 'https:' ? https : url.protocol === 'http:' ? http : undefined;
  if (!transport) return Promise.reject(new TypeError(`unsupported protocol ${url.protocol}`));
  const headers: Record<string, string> = {
    'user-agent': 'durable-agent-mcp',
    ...given,
    'idempotency-key': idempotencyKey,
  };
  if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
  return new Promise((resolve, reject) => {
    const req = transport.request(
      url,
      { method, headers, lookup, timeout: HTTP_REQUEST_TIMEOUT_MS, signal },
      (res) => {
        const chunks: Buffer[] = [];
        let kept = 0;
        let total = 0;
        res.on('data', (chunk: Buffer) => {
          total += chunk.length;
          if (kept < HTTP_BODY_MAX_BYTES) {
            const part = chunk.subarray(0, HTTP_BODY_MAX_BYTES - kept);
            chunks.push(part);
            kept += part.length;
          }
        });
        res.on('end', () => {
          let text = Buffer.concat(chunks).toString('utf8');
          if (total > kept) text += `…[truncated ${total - kept} bytes]`;
          resolve({ status: res.statusCode ?? 0, headers: capHeaders(res.headers), body: text });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timed out after ${HTTP_REQUEST_TIMEOUT_MS / 1000} s`)));
    req.on('error', reject);
    req.end(body);
  });
}

function capHeaders(raw: http.IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw).slice(0, MAX_HEADERS)) {
    if (value === undefined) continue;
    const text = Array.isArray(value) ? value.join(', ') : value;
    out[name] = text.slice(0, MAX_HEADER_VALUE);
  }
  return out;
}
