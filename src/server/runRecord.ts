// What Temporal tells of a run without a worker: the memo the server and the workflow write, and
// the run status an execution status stands for. Shared by reading and listing runs.
import type { RunStatusName } from '../shared/contract.js';
import type { ParameterFingerprints } from './idempotency.js';
import { localPrincipal } from './principal.js';

export interface RunMemo {
  task?: string;
  startedAt?: string;
  maxSteps?: number;
  agentStatus?: 'running' | 'waiting_for_approval';
  pendingApprovalIds?: string[];
  startNonce?: string;
  /** The step the run is on; written by the workflow since patch `step-in-memo`. */
  agentStep?: number;
  parentRunId?: string;
  /** The principal that started the run; absent on runs from before principals (the local one's). */
  owner?: string;
  /** Set when the run was started with an idempotencyKey: what a repeated key must match. */
  params?: ParameterFingerprints;
}

/** Whose run it is: runs from before principals existed belong to the local principal. */
export function ownerOf(record: { owner?: string } | undefined): string {
  return record?.owner ?? localPrincipal();
}

/** The run status of a closed execution, by Temporal's execution status name. */
export const CLOSED_STATUS: Record<string, RunStatusName> = {
  COMPLETED: 'completed',
  FAILED: 'failed',
  TERMINATED: 'failed',
  CANCELLED: 'cancelled',
  TIMED_OUT: 'timed_out',
};
