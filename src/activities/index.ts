// Builds the activity implementations from the worker's own configuration: secrets such as the
// model key live here, never in workflow inputs or history.
import type { Config } from '../config.js';
import { createCallModel } from './callModel.js';
import { createHttpRequest } from './httpRequest.js';
import type { AgentActivities } from './types.js';

export function createActivities(config: Config): AgentActivities {
  return {
    callModel: createCallModel({
      ...(config.openaiBaseUrl ? { baseURL: config.openaiBaseUrl } : {}),
      ...(config.openaiApiKey ? { apiKey: config.openaiApiKey } : {}),
    }),
    httpRequest: createHttpRequest({ allow: config.httpAllow, deny: config.httpDeny }),
  };
}
