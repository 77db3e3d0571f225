// Which names carry credentials: HTTP headers, and the fields and query parameters a model or a
// response may put them in. Pure: the http_request activity (dropping them on a cross-origin
// redirect) and the redaction of what tools return share this one rule.

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
const CREDENTIAL_PART = /token|secret|passw(or)?d|session|api[-_]?key|credential|cookie|signature|(^|[-_])(auth|sig)($|[-_])/;

/** Whether a header, field or query parameter of this name (any case) carries a credential. */
export function isCredentialName(name: string): boolean {
  const n = name.trim().toLowerCase();
  return CREDENTIAL_HEADERS.has(n) || CREDENTIAL_PART.test(n);
}
