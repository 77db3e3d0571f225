// Whether the namespace has the search attributes list_runs filters on (src/shared/searchAttributes.ts).
// Asked once per process through the existing connection; without them the server lists by scanning.
import { encodeSearchAttributeIndexedValueType } from '@temporalio/common/lib/search-attributes.js';
import { log } from '../log.js';
import { cliTypeName, RUN_SEARCH_ATTRIBUTES } from '../shared/searchAttributes.js';
import type { TemporalHandle } from './connect.js';

/** A slow answer must not make a whole process scan, but a start must not hang on it either. */
const CHECK_DEADLINE_MS = 10_000;

/** The CLI commands that register the attributes: one each (the CLI pairs a single --type with the first --name). */
export function registerCommands(namespace: string): string[] {
  return RUN_SEARCH_ATTRIBUTES.map((key) => `temporal operator search-attribute create --namespace ${namespace} --name ${key.name} --type ${cliTypeName(key.type)}`);
}

/**
 * True if every attribute is registered with its type. Never throws: any doubt (a missing attribute,
 * no permission to ask) means false, and one line on stderr says how to register them.
 */
export async function hasRunSearchAttributes(temporal: Pick<TemporalHandle, 'connection' | 'namespace'>): Promise<boolean> {
  const { connection, namespace } = temporal;
  const fallBack = (why: string): false => {
    log.warn(
      `list_runs falls back to scanning runs in memory (slower as runs accumulate): ${why}. Register the search attributes ` +
        `(${registerCommands(namespace).join('; ')}; on Temporal Cloud in the namespace's settings or with tcld) and restart the server.`,
    );
    return false;
  };
  let registered: Record<string, unknown>;
  try {
    const res = await connection.withDeadline(Date.now() + CHECK_DEADLINE_MS, () =>
      connection.operatorService.listSearchAttributes({ namespace }),
    );
    registered = res.customAttributes ?? {};
  } catch (err) {
    return fallBack(`could not ask namespace "${namespace}" for its search attributes (${err instanceof Error ? err.message : String(err)})`);
  }
  const missing = RUN_SEARCH_ATTRIBUTES.filter((key) => registered[key.name] !== encodeSearchAttributeIndexedValueType(key.type));
  if (missing.length) {
    return fallBack(`namespace "${namespace}" lacks ${missing.map((key) => `${key.name} (${cliTypeName(key.type)})`).join(', ')}`);
  }
  log.debug('list_runs filters and pages in Temporal visibility', { namespace, searchAttributes: RUN_SEARCH_ATTRIBUTES.map((k) => k.name) });
  return true;
}
