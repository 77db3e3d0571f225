// What the tools return never shows a credential in clear: the model may put an Authorization
// header or an API key into a tool call, and a response may echo it. Arguments, summaries,
// results and errors pass through here on their way out; the run itself keeps what it needs.
import type { PendingApproval, RunStatus } from '../shared/contract.js';
import { isCredentialName } from '../shared/credentials.js';
import type { HistoryEntry } from './runHistory.js';

export const REDACTED = '[redacted]';

const MAX_DEPTH = 20;

/** A copy of `value` with credential-named fields and credentials inside strings replaced. */
export function redactValue(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactText(value);
  if (depth > MAX_DEPTH || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => redactValue(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    out[key] = isCredentialName(key) && typeof v === 'string' ? REDACTED : redactValue(v, depth + 1);
  }
  return out;
}

const URL_USERINFO = /(\b[a-z][a-z0-9+.-]*:\/\/)([^\s/@:]*):([^\s/@]+)@/gi;
const QUERY_CREDENTIAL = /([?&;]([^=&#\s"'\\]+)=)([^&#\s"'\\]+)/g;
const AUTH_SCHEME = /\b(Bearer|Basic|Digest|Token)\s+[A-Za-z0-9._~+/=-]{6,}/g;
/** "name": "value" in JSON text, and \"name\":\"value\" in JSON text inside a JSON string. */
const JSON_PAIR = /("((?:[^"\\]|\\.){1,100})"\s*:\s*)"(?:[^"\\]|\\.)*"/g;
const ESCAPED_JSON_PAIR = /(\\"([^"\\]{1,100})\\"\s*:\s*)\\"(?:[^"\\]|\\\\.)*?\\"/g;
/** "Name: value" header lines. */
const HEADER_LINE = /^([ \t]*([A-Za-z0-9-]{1,100})[ \t]*:[ \t]*)(\S.*)$/gm;

export function redactText(text: string): string {
  return text
    .replace(URL_USERINFO, `$1$2:${REDACTED}@`)
    .replace(QUERY_CREDENTIAL, (m, head: string, name: string) => (isCredentialName(name) ? `${head}${REDACTED}` : m))
    .replace(AUTH_SCHEME, `$1 ${REDACTED}`)
    .replace(JSON_PAIR, (m, head: string, name: string) => (isCredentialName(name) ? `${head}"${REDACTED}"` : m))
    .replace(ESCAPED_JSON_PAIR, (m, head: string, name: string) => (isCredentialName(name) ? `${head}\\"${REDACTED}\\"` : m))
    .replace(HEADER_LINE, (m, head: string, name: string) => (isCredentialName(name) ? `${head}${REDACTED}` : m));
}

/** Names of the credential headers an http_request call carries. */
function credentialHeaders(args: unknown): string[] {
  const headers = typeof args === 'object' && args !== null ? (args as { headers?: unknown }).headers : undefined;
  if (typeof headers !== 'object' || headers === null) return [];
  return Object.keys(headers).filter(isCredentialName);
}

function redactApproval(p: PendingApproval): PendingApproval {
  const attached = p.tool === 'http_request' ? credentialHeaders(p.arguments) : [];
  const note = attached.length ? ` (credential attached: ${attached.join(', ')})` : '';
  return { ...p, arguments: redactValue(p.arguments), summary: redactText(p.summary) + note };
}

export function redactStatus(status: RunStatus): RunStatus {
  return {
    ...status,
    pendingApprovals: status.pendingApprovals.map(redactApproval),
    ...(status.lastToolCall ? { lastToolCall: { ...status.lastToolCall, arguments: redactValue(status.lastToolCall.arguments) } } : {}),
    ...(status.result !== undefined ? { result: redactText(status.result) } : {}),
    ...(status.error !== undefined ? { error: redactText(status.error) } : {}),
  };
}

export function redactHistoryEntry(entry: HistoryEntry): HistoryEntry {
  return {
    ...entry,
    summary: redactText(entry.summary),
    ...(entry.arguments !== undefined ? { arguments: redactValue(entry.arguments) } : {}),
    ...(entry.result !== undefined ? { result: redactText(entry.result) } : {}),
    ...(entry.error !== undefined ? { error: redactText(entry.error) } : {}),
  };
}
