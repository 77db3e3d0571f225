// The custom search attributes list_runs filters and pages on in Temporal's visibility store. The
// server checks at start-up that the namespace has them and only then sets them: an unregistered
// attribute fails a workflow start, and an upsert of one fails the workflow task. Workflow code and
// the light start-up path (the dev server's flags) import this file: no Node built-ins, no I/O, and
// only types from the SDK.
import type { SearchAttributePair, SearchAttributeType, SearchAttributeUpdatePair } from '@temporalio/common';
import type { SearchAttributeKey } from '@temporalio/common/lib/search-attributes.js';

/** The principal that owns the run, URI-encoded (so a plain name reads as itself and any name can be queried). */
export const RUN_OWNER: SearchAttributeKey<typeof SearchAttributeType.KEYWORD> = { name: 'DurableAgentOwner', type: 'KEYWORD' };
/** `running` or `waiting_for_approval` while the run is open (closed statuses come from ExecutionStatus). */
export const RUN_STATUS: SearchAttributeKey<typeof SearchAttributeType.KEYWORD> = { name: 'DurableAgentStatus', type: 'KEYWORD' };
/** The run's `startedAt`: list_runs orders and pages by it. */
export const RUN_STARTED_AT: SearchAttributeKey<typeof SearchAttributeType.DATETIME> = { name: 'DurableAgentStartedAt', type: 'DATETIME' };

export const RUN_SEARCH_ATTRIBUTES = [RUN_OWNER, RUN_STATUS, RUN_STARTED_AT] as const;

/** A type as the Temporal CLI spells it (`Keyword`, `Datetime`). */
export function cliTypeName(type: SearchAttributeType): string {
  return type.toLowerCase().replace(/(?:^|_)([a-z])/g, (_, letter: string) => letter.toUpperCase());
}

/** `temporal server start-dev` flags that register the attributes on a dev server. */
export const DEV_SERVER_SEARCH_ATTRIBUTE_ARGS: readonly string[] = RUN_SEARCH_ATTRIBUTES.flatMap((key) => [
  '--search-attribute',
  `${key.name}=${cliTypeName(key.type)}`,
]);

/** What DurableAgentOwner holds for a principal: Temporal's query strings cannot match every character. */
export function ownerKeyword(principal: string): string {
  return encodeURIComponent(principal);
}

/** The attributes a new run (or sub-agent) starts with. */
export function newRunSearchAttributes(owner: string, startedAt: string): SearchAttributePair[] {
  return [
    { key: RUN_OWNER, value: ownerKeyword(owner) },
    { key: RUN_STATUS, value: 'running' },
    { key: RUN_STARTED_AT, value: new Date(startedAt) },
  ];
}

/** The update a run upserts when it starts or stops waiting for a human. */
export function runStatusUpdate(status: 'running' | 'waiting_for_approval'): SearchAttributeUpdatePair[] {
  return [{ key: RUN_STATUS, value: status }];
}
