// Shapes every tool answer the same way: structuredContent plus the same JSON as text, and
// errors as `isError` results with a message that says what to do next.
import type { CallToolResult } from '@modelcontextprotocol/server';
import { log } from '../log.js';

/** An error caused by the caller's input or the run's state; its message is shown as is. */
export class UserError extends Error {}

/** No such run, or not the caller's (the two are told apart by no one): tasks answer -32602 for it. */
export class UnknownRunError extends UserError {}

export function ok<T extends object>(value: T): CallToolResult {
  return {
    content: [{ type: 'text', text: JSON.stringify(value, null, 2) }],
    structuredContent: value,
  };
}

export function fail(message: string): CallToolResult {
  return { content: [{ type: 'text', text: message }], isError: true };
}

export async function guard<R extends object = CallToolResult>(tool: string, body: () => Promise<R | CallToolResult>): Promise<R | CallToolResult> {
  try {
    return await body();
  } catch (err) {
    if (err instanceof UserError) return fail(err.message);
    const message = err instanceof Error ? err.message : String(err);
    log.error(`${tool} failed`, { error: message });
    return fail(
      `${tool} could not complete: ${message}. If Temporal is unreachable, check that it is running (or that ` +
        'TEMPORAL_ADDRESS is right) and try again; no run was changed.',
    );
  }
}
