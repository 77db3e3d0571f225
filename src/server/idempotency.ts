// idempotencyKey → runId, scoped to the caller's principal, and a fingerprint of the start
// parameters so the same key with different parameters is refused instead of silently
// returning the old run (as payment APIs do).
import { createHash } from 'node:crypto';
import { localPrincipal } from './principal.js';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** The fields of start_agent_run that define a run; a repeated key must repeat them. */
export const RUN_PARAMETERS = [
  'task',
  'instructions',
  'model',
  'tools',
  'approval',
  'maxSteps',
  'maxTokens',
  'timeoutSeconds',
  'approvalTimeoutSeconds',
] as const;
type RunParameter = (typeof RUN_PARAMETERS)[number];

/** A short hash per given parameter (as the caller sent it, before defaults). Kept in the run's memo. */
export type ParameterFingerprints = Partial<Record<RunParameter, string>>;

export function runIdForKey(principal: string, key: string): string {
  // The local principal keeps the ids runs had before principals existed, so their keys still match.
  const scoped = principal === localPrincipal() ? key : `${principal}\n${key}`;
  return `run-k-${sha256(scoped).slice(0, 32)}`;
}

export function fingerprint(params: Partial<Record<RunParameter, unknown>>): ParameterFingerprints {
  const out: ParameterFingerprints = {};
  for (const name of RUN_PARAMETERS) {
    const value = params[name];
    if (value !== undefined) out[name] = sha256(JSON.stringify(value)).slice(0, 16);
  }
  return out;
}

/** The parameters whose values differ between two fingerprints (given on one side only counts). */
export function differingParameters(a: ParameterFingerprints, b: ParameterFingerprints): RunParameter[] {
  return RUN_PARAMETERS.filter((name) => a[name] !== b[name]);
}
