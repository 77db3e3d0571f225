// The queries and signals of an agent run, shared by the workflow and the run service.
// Workflow code imports this file, so it must stay free of Node built-ins and I/O.
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { ApprovalDecision, ApprovalLookup, RunStatus } from './contract.js';

export const statusQuery = defineQuery<RunStatus>('status');
export const approvalQuery = defineQuery<ApprovalLookup, [string]>('approval');
export const decideSignal = defineSignal<[ApprovalDecision]>('decide');
/** send_message: guidance from the caller, shown to the model before its next turn. */
export const messageSignal = defineSignal<[string]>('message');
