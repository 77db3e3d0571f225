// Which HTTP headers carry credentials. Pure: the workflow (redaction) and the http_request
// activity (dropping them on a cross-origin redirect) share this one rule.

const CREDENTIAL_HEADERS = new Set([
  'authorization',
  'proxy-authorization',
  'cookie',
  'x-api-key',
  'api-key',
  'x-auth-token',
  'x-access-token',
]);

// Parts of a name that mark a credential: x-csrf-token, x-client-secret, x-session-id, x-goog-api-key, …
const CREDENTIAL_PART = /token|secret|passw(or)?d|session|api[-_]?key|credential|cookie|(^|[-_])auth($|[-_])/;

/** Whether a header (any case) carries a credential. */
export function isCredentialHeader(name: string): boolean {
  const n = name.trim().toLowerCase();
  return CREDENTIAL_HEADERS.has(n) || CREDENTIAL_PART.test(n);
}
