// Every log line goes to stderr: in stdio mode stdout carries MCP JSON-RPC and nothing else.
import type { Config } from './config.js';

const ORDER = { debug: 10, info: 20, warn: 30, error: 40 } as const;
export type LogLevel = keyof typeof ORDER;

let threshold: number = ORDER.info;

export function setLogLevel(level: Config['logLevel']): void {
  threshold = ORDER[level];
}

function write(level: LogLevel, message: string, meta?: Record<string, unknown>): void {
  if (ORDER[level] < threshold) return;
  const extra = meta && Object.keys(meta).length ? ` ${safeJson(meta)}` : '';
  process.stderr.write(`${new Date().toISOString()} ${level.toUpperCase()} ${message}${extra}\n`);
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch {
    return '[unserialisable]';
  }
}

export const log = {
  debug: (m: string, meta?: Record<string, unknown>) => write('debug', m, meta),
  info: (m: string, meta?: Record<string, unknown>) => write('info', m, meta),
  warn: (m: string, meta?: Record<string, unknown>) => write('warn', m, meta),
  error: (m: string, meta?: Record<string, unknown>) => write('error', m, meta),
};
