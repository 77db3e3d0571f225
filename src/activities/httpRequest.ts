// The agent's http_request tool. Refuses link-local and cloud-metadata addresses (checked on the
// address actually connected to, so DNS tricks do not help), honours host allow/deny patterns,
// caps what it reads, and sends a stable Idempotency-Key so a retried write is recognisable.
import { ApplicationFailure, Context } from '@temporalio/activity';
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import type { HttpRequestInput, HttpToolResult } from './types.js';

export const HTTP_BODY_MAX_BYTES = 64 * 1024;
export const HTTP_REQUEST_TIMEOUT_MS = 30_000;
const MAX_REDIRECTS = 5;
const MAX_HEADERS = 50;
const MAX_HEADER_VALUE = 1024;

export interface HttpPolicy {
  allow: string[];
  deny: string[];
}

export function isRefusedAddress(address: string): boolean {
  const v = address.toLowerCase();
  if (isIP(v) === 4) return v.startsWith('169.254.');
  if (v.startsWith('::ffff:')) return isRefusedAddress(v.slice(7));
  // fd00:ec2::254 (AWS IMDS over IPv6) and fe80::/10 link-local.
  return v === 'fd00:ec2::254' || /^fe[89ab][0-9a-f]:/.test(v);
}

function matchesHost(pattern: string, host: string): boolean {
  const p = pattern.toLowerCase();
  if (p.startsWith('*.')) return host.endsWith(p.slice(1)) || host === p.slice(2);
  return host === p;
}

export function checkHostPolicy(host: string, policy: HttpPolicy): string | undefined {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  if (isRefusedAddress(h)) return `the address ${h} is link-local or cloud metadata and is always refused`;
  if (policy.deny.some((p) => matchesHost(p, h))) return `the host ${h} is denied by --http-deny`;
  if (policy.allow.length && !policy.allow.some((p) => matchesHost(p, h))) {
    return `the host ${h} is not in --http-allow (${policy.allow.join(', ')})`;
  }
  return undefined;
}

const guardedLookup: LookupFunction = (hostname, options, callback) => {
  dnsLookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
    if (err) return callback(err, '', 4);
    const list = addresses;
    const refused = list.find((a) => isRefusedAddress(a.address));
    if (refused) {
      return callback(new Error(`refused: ${hostname} resolves to ${refused.address}`), '', 4);
    }
    if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, list);
    const first = list[0];
    if (!first) return callback(new Error(`no address for ${hostname}`), '', 4);
    callback(null, first.address, first.family);
  });
};

export function createHttpRequest(policy: HttpPolicy) {
  return async function httpRequest(input: HttpRequestInput): Promise<HttpToolResult> {
    const ctx = Context.current();
    const beat = setInterval(() => ctx.heartbeat(), 2_000);
    try {
      let url = new URL(input.args.url);
      let method = input.args.method.toUpperCase();
      let body = input.args.body;
      for (let hop = 0; ; hop++) {
        const refusal = checkHostPolicy(url.hostname, policy);
        if (refusal) throw ApplicationFailure.nonRetryable(`request refused: ${refusal}`, 'RequestRefused');
        const response = await send(url, method, input, body, ctx.cancellationSignal);
        const location = response.headers['location'];
        if (response.status >= 300 && response.status < 400 && location && hop < MAX_REDIRECTS) {
          url = new URL(location, url);
          if (response.status === 303 || ((response.status === 301 || response.status === 302) && method === 'POST')) {
            method = 'GET';
            body = undefined;
          }
          continue;
        }
        if (response.status >= 500 || response.status === 429) {
          // Retryable for Temporal; after the last attempt the workflow tells the model.
          throw ApplicationFailure.retryable(
            `${method} ${url.href} answered HTTP ${response.status}: ${response.body.slice(0, 200)}`,
            `HttpStatus${response.status}`,
          );
        }
        return response;
      }
    } catch (err) {
      if (err instanceof ApplicationFailure) throw err;
      const message = err instanceof Error ? err.message : String(err);
      if (/^refused:/.test(message)) throw ApplicationFailure.nonRetryable(`request ${message}`, 'RequestRefused');
      if (err instanceof TypeError) throw ApplicationFailure.nonRetryable(`invalid request: ${message}`, 'BadRequest');
      throw ApplicationFailure.retryable(`request failed: ${message}`, 'HttpTransportError');
    } finally {
      clearInterval(beat);
    }
  };
}

function send(
  url: URL,
  method: string,
  input: HttpRequestInput,
  body: string | undefined,
  signal: AbortSignal,
): Promise<HttpToolResult> {
  const transport = url.protocol === 'https:' ? https : url.protocol === 'http:' ? http : undefined;
  if (!transport) return Promise.reject(new TypeError(`unsupported protocol ${url.protocol}`));
  const headers: Record<string, string> = {
    'user-agent': 'durable-agent-mcp',
    ...(input.args.headers ?? {}),
    'idempotency-key': input.idempotencyKey,
  };
  if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
  return new Promise((resolve, reject) => {
    const req = transport.request(
      url,
      { method, headers, lookup: guardedLookup, timeout: HTTP_REQUEST_TIMEOUT_MS, signal },
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
