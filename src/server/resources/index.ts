// Resources: runs as run:// resources, and subscriptions to them (2025-11-25 resources/subscribe;
// 2026-07-28 subscriptions/listen is served in ../listen).
import type { McpServer } from '@modelcontextprotocol/server';
import type { Runs } from '../runs.js';
import { registerRunResources } from './runResources.js';
import { registerResourceSubscriptions } from './subscriptions.js';

export { parseRunUri } from './runResources.js';

export function registerResources(server: McpServer, runs: Runs): void {
  registerRunResources(server, runs);
  registerResourceSubscriptions(server, runs);
}
