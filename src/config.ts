// One validated configuration object, built once at start-up from flags and their env twins.
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { parseHttpRules, type HttpRules } from './activities/addressPolicy.js';

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;

const csv = z
  .string()
  .optional()
  .transform((s) => (s ? s.split(',').map((p) => p.trim()).filter(Boolean) : []));

/** --http-allow / --http-deny: host patterns, IPs and CIDRs, checked and parsed once here. */
const httpRules = csv.transform((entries, ctx): HttpRules => {
  try {
    return parseHttpRules(entries);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: err instanceof Error ? err.message : String(err) });
    return z.NEVER;
  }
});

const portNumber = z.coerce.number().int().min(1).max(65535);
const booleanFlag = z
  .union([z.boolean(), z.string()])
  .optional()
  .transform((v, ctx) => {
    if (v === undefined || typeof v === 'boolean') return v ?? false;
    if (/^(1|true|yes|on)$/i.test(v)) return true;
    if (/^(0|false|no|off|)$/i.test(v)) return false;
    ctx.addIssue({ code: 'custom', message: `expected true or false, got "${v}"` });
    return z.NEVER;
  });

/** A file or directory path: `~` expanded, made absolute (a spawned service resolves it the same way). */
const localPath = z.string().min(1).transform((p) => resolve(p.replace(/^~(?=$|\/)/, homedir())));

export const ConfigSchema = z.object({
  command: z.enum(['serve', 'worker', 'service']),
  serviceAction: z.enum(['start', 'stop', 'status', 'logs', 'run']).optional(),
  noService: booleanFlag,
  idleShutdownSeconds: z.coerce.number().int().min(1).max(30 * 24 * 3600),
  transport: z.enum(['stdio', 'http']),
  host: z.string().min(1),
  port: portNumber,
  taskQueue: z.string().min(1).max(200),
  dataDir: localPath,
  model: z.string().min(1),
  openaiBaseUrl: z.url({ protocol: /^https?$/ }).optional(),
  openaiApiKey: z.string().optional(),
  temporalAddress: z.string().min(1).optional(),
  temporalCliPath: z.string().min(1).optional(),
  noWorker: booleanFlag,
  noElicitation: booleanFlag,
  httpAllow: httpRules,
  httpDeny: httpRules,
  approvalTimeoutSeconds: z.coerce.number().int().min(1).max(365 * 24 * 3600),
  maxConcurrentActivities: z.coerce.number().int().min(1).max(10_000),
  maxParallelTools: z.coerce.number().int().min(1).max(64),
  maxCachedWorkflows: z.coerce.number().int().min(0).max(100_000).optional(),
  token: z.string().min(16, 'use at least 16 characters').optional(),
  tokensFile: localPath.optional(),
  maxSessions: z.coerce.number().int().min(1).max(100_000),
  sessionIdleTimeoutSeconds: z.coerce.number().int().min(1).max(7 * 24 * 3600),
  allowedOrigins: csv,
  mcpConfig: localPath.optional(),
  workspace: localPath.optional(),
  logLevel: z.enum(LOG_LEVELS),
});
export type Config = z.infer<typeof ConfigSchema>;

/** Each flag, its env twin and its default. `--help` is generated from this table. */
export const FLAGS = [
  { flag: 'transport', env: 'DURABLE_AGENT_TRANSPORT', def: 'stdio', help: 'stdio or http (Streamable HTTP at /mcp)' },
  { flag: 'host', env: 'DURABLE_AGENT_HOST', def: '127.0.0.1', help: 'HTTP bind address' },
  { flag: 'port', env: 'DURABLE_AGENT_PORT', def: '8787', help: 'HTTP port' },
  { flag: 'task-queue', env: 'DURABLE_AGENT_TASK_QUEUE', def: 'durable-agent', help: 'Temporal task queue' },
  { flag: 'data-dir', env: 'DURABLE_AGENT_HOME', def: join('~', '.durable-agent-mcp'), help: 'data directory (embedded Temporal SQLite, logs)' },
  { flag: 'model', env: 'DURABLE_AGENT_MODEL', def: 'gpt-4o-mini', help: 'default model for runs' },
  { flag: 'openai-base-url', env: 'OPENAI_BASE_URL', def: undefined, help: 'OpenAI-compatible endpoint (default: OpenAI)' },
  { flag: 'temporal-address', env: 'TEMPORAL_ADDRESS', def: undefined, help: 'Temporal frontend host:port; unset = embedded dev server' },
  { flag: 'temporal-cli-path', env: 'TEMPORAL_CLI_PATH', def: undefined, help: 'temporal binary for the embedded dev server' },
  { flag: 'no-worker', env: 'DURABLE_AGENT_NO_WORKER', def: undefined, help: 'do not run a worker in this process', boolean: true },
  { flag: 'no-elicitation', env: 'DURABLE_AGENT_NO_ELICITATION', def: undefined, help: 'do not put pending approvals to the person as forms (elicitation); approve_step only', boolean: true },
  { flag: 'no-service', env: 'DURABLE_AGENT_NO_SERVICE', def: undefined, help: 'stdio: keep everything in this process (no background service)', boolean: true },
  { flag: 'idle-shutdown', env: 'DURABLE_AGENT_IDLE_SHUTDOWN', def: '900', help: 'seconds the background service idles (no open run, no client) before it stops' },
  { flag: 'http-allow', env: 'DURABLE_AGENT_HTTP_ALLOW', def: undefined, help: 'what http_request may reach besides public addresses: hosts (api.example.com, *.corp), IPs, CIDRs (127.0.0.0/8); a host pattern here also limits it to the list' },
  { flag: 'http-deny', env: 'DURABLE_AGENT_HTTP_DENY', def: undefined, help: 'hosts, IPs and CIDRs http_request must not reach (wins over --http-allow)' },
  { flag: 'approval-timeout', env: 'DURABLE_AGENT_APPROVAL_TIMEOUT', def: '86400', help: 'seconds a call waits for approval' },
  { flag: 'max-parallel-tools', env: 'DURABLE_AGENT_MAX_PARALLEL_TOOLS', def: '8', help: 'tool calls of one model turn a run executes at once (1 = one after another)' },
  { flag: 'max-concurrent-activities', env: 'DURABLE_AGENT_MAX_CONCURRENT_ACTIVITIES', def: '100', help: 'worker: model and tool calls run at once' },
  { flag: 'max-cached-workflows', env: 'DURABLE_AGENT_MAX_CACHED_WORKFLOWS', def: undefined, help: 'worker: runs kept in memory between steps (default: sized from RAM)' },
  { flag: 'token', env: 'DURABLE_AGENT_TOKEN', def: undefined, help: 'HTTP: require Authorization: Bearer <token>; the local principal (this or --tokens-file is needed to bind beyond loopback)' },
  { flag: 'tokens-file', env: 'DURABLE_AGENT_TOKENS_FILE', def: undefined, help: 'HTTP: JSON { "<principal>": "<token>", … }; each token is a principal (re-read on change and SIGHUP)' },
  { flag: 'max-sessions', env: 'DURABLE_AGENT_MAX_SESSIONS', def: '256', help: 'HTTP: live MCP sessions at most; a new one evicts the least recently used idle one' },
  { flag: 'session-idle-timeout', env: 'DURABLE_AGENT_SESSION_IDLE_TIMEOUT', def: '1800', help: 'HTTP: seconds without a request before an MCP session is closed' },
  { flag: 'allowed-origins', env: 'DURABLE_AGENT_ALLOWED_ORIGINS', def: undefined, help: 'HTTP: browser Origins allowed besides loopback ones, e.g. https://app.example.com' },
  { flag: 'mcp-config', env: 'DURABLE_AGENT_MCP_CONFIG', def: undefined, help: 'MCP servers whose tools the agent may use (Claude Desktop\'s mcpServers JSON)' },
  { flag: 'workspace', env: 'DURABLE_AGENT_WORKSPACE', def: undefined, help: 'directory for the workspace_* agent tools (unset: not offered)' },
  { flag: 'log-level', env: 'DURABLE_AGENT_LOG_LEVEL', def: 'info', help: 'debug, info, warn or error' },
] as const;

type FlagName = (typeof FLAGS)[number]['flag'];

export class ConfigError extends Error {}

export const SERVICE_ACTIONS = ['start', 'stop', 'status', 'logs', 'run'] as const;
export type ServiceAction = (typeof SERVICE_ACTIONS)[number];

export interface ParsedArgs {
  command: 'serve' | 'worker' | 'service' | 'help' | 'version';
  serviceAction?: ServiceAction;
  values: Partial<Record<FlagName, string | boolean>>;
}

export function parseArgs(argv: string[]): ParsedArgs {
  let command: ParsedArgs['command'] = 'serve';
  let serviceAction: ServiceAction | undefined;
  const values: ParsedArgs['values'] = {};
  const known = new Map<string, (typeof FLAGS)[number]>(FLAGS.map((f) => [f.flag, f]));
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--help' || arg === '-h') return { command: 'help', values };
    if (arg === '--version' || arg === '-v') return { command: 'version', values };
    if (!arg.startsWith('--')) {
      if (i === 0 && (arg === 'serve' || arg === 'worker')) {
        command = arg;
        continue;
      }
      if (i === 0 && arg === 'help') return { command: 'help', values };
      if (i === 0 && arg === 'service') {
        command = 'service';
        continue;
      }
      if (i === 1 && command === 'service' && (SERVICE_ACTIONS as readonly string[]).includes(arg)) {
        serviceAction = arg as ServiceAction;
        continue;
      }
      if (i === 1 && command === 'service') {
        throw new ConfigError(`unknown service action "${arg}" (expected start, stop, status or logs)`);
      }
      throw new ConfigError(`unknown command "${arg}" (expected serve or worker; see --help)`);
    }
    const [rawName, inline] = arg.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
    const spec = known.get(rawName);
    if (!spec) throw new ConfigError(`unknown flag --${rawName} (see --help)`);
    if ('boolean' in spec) {
      values[spec.flag] = inline ?? true;
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined || (inline === undefined && value.startsWith('--'))) {
      throw new ConfigError(`flag --${rawName} needs a value`);
    }
    values[spec.flag] = value;
  }
  if (command === 'service' && !serviceAction) {
    throw new ConfigError('`service` needs an action: start, stop, status or logs');
  }
  return { command, ...(serviceAction ? { serviceAction } : {}), values };
}

export function buildConfig(parsed: ParsedArgs, env: NodeJS.ProcessEnv = process.env): Config {
  const pick = (flag: FlagName): string | boolean | undefined => {
    const spec = FLAGS.find((f) => f.flag === flag)!;
    const fromEnv = env[spec.env];
    return parsed.values[flag] ?? (fromEnv === '' ? undefined : fromEnv) ?? spec.def;
  };
  const raw = {
    command: parsed.command === 'worker' || parsed.command === 'service' ? parsed.command : 'serve',
    serviceAction: parsed.serviceAction,
    noService: pick('no-service'),
    idleShutdownSeconds: pick('idle-shutdown'),
    transport: pick('transport'),
    host: pick('host'),
    port: pick('port'),
    taskQueue: pick('task-queue'),
    dataDir: pick('data-dir'),
    model: pick('model'),
    openaiBaseUrl: pick('openai-base-url'),
    openaiApiKey: env.OPENAI_API_KEY || undefined,
    temporalAddress: pick('temporal-address'),
    temporalCliPath: pick('temporal-cli-path'),
    noWorker: pick('no-worker'),
    noElicitation: pick('no-elicitation'),
    httpAllow: pick('http-allow'),
    httpDeny: pick('http-deny'),
    approvalTimeoutSeconds: pick('approval-timeout'),
    maxConcurrentActivities: pick('max-concurrent-activities'),
    maxParallelTools: pick('max-parallel-tools'),
    maxCachedWorkflows: pick('max-cached-workflows'),
    token: pick('token'),
    tokensFile: pick('tokens-file'),
    maxSessions: pick('max-sessions'),
    sessionIdleTimeoutSeconds: pick('session-idle-timeout'),
    allowedOrigins: pick('allowed-origins'),
    mcpConfig: pick('mcp-config'),
    workspace: pick('workspace'),
    logLevel: pick('log-level'),
  };
  const result = ConfigSchema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const key = String(issue.path[0] ?? '');
    const spec = FLAGS.find((f) => camel(f.flag) === key);
    const where = spec ? `--${spec.flag} / ${spec.env}` : key;
    throw new ConfigError(`invalid ${where}: ${issue.message}`);
  }
  const config = result.data;
  if (config.transport === 'http' && !isLoopback(config.host) && !config.token && !config.tokensFile) {
    throw new ConfigError(
      `refusing to serve HTTP on ${config.host} without --token / DURABLE_AGENT_TOKEN or --tokens-file: anyone who can reach it could start agent runs`,
    );
  }
  return config;
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

function camel(flag: string): string {
  const special: Record<string, string> = {
    'approval-timeout': 'approvalTimeoutSeconds',
    'idle-shutdown': 'idleShutdownSeconds',
    'session-idle-timeout': 'sessionIdleTimeoutSeconds',
    'data-dir': 'dataDir',
  };
  return special[flag] ?? flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

export function helpText(version: string): string {
  const names = FLAGS.map((f) => ('boolean' in f ? `--${f.flag}` : `--${f.flag} <value>`));
  const nameWidth = Math.max(...names.map((n) => n.length));
  const envWidth = Math.max(...FLAGS.map((f) => f.env.length));
  const rows = FLAGS.map((f, i) => {
    const def = f.def ? ` (default ${f.def})` : '';
    return `  ${names[i]!.padEnd(nameWidth)} ${f.env.padEnd(envWidth)} ${f.help}${def}`;
  });
  return [
    `durable-agent-mcp ${version} — durable agent runs over MCP, backed by Temporal`,
    '',
    'Usage: durable-agent-mcp [serve|worker|service <action>] [flags]',
    '  serve    (default) the MCP server. Over stdio it is a thin front to the data dir\'s background',
    '           service (embedded Temporal + worker), started on demand; --no-service keeps all in-process',
    '  worker   a Temporal worker alone',
    '  service  start | stop | status | logs — manage the background service of the data dir',
    '',
    'Flags (each has the env twin shown):',
    ...rows,
    '',
    'Also read from the environment: OPENAI_API_KEY, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*, TEMPORAL_PROFILE.',
    '',
  ].join('\n');
}

/** Flags back to argv, so a spawned background service sees the configuration its front saw. */
export function toArgs(values: ParsedArgs['values']): string[] {
  return Object.entries(values).map(([flag, value]) => (value === true ? `--${flag}` : `--${flag}=${String(value)}`));
}
