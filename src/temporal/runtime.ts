// Temporal's native core logs to stdout unless told otherwise; route everything to our stderr
// logger. Must run before any NativeConnection or Worker exists.
import { DefaultLogger, Runtime, type LogEntry } from '@temporalio/worker';
import type { Config } from '../config.js';

let installed = false;

export function installTemporalRuntime(config: Config): void {
  if (installed) return;
  installed = true;
  const level = config.logLevel === 'debug' ? 'DEBUG' : config.logLevel === 'info' ? 'INFO' : config.logLevel === 'warn' ? 'WARN' : 'ERROR';
  const logger = new DefaultLogger(level, (entry: LogEntry) => {
    const meta = entry.meta && Object.keys(entry.meta).length ? ` ${safeJson(entry.meta)}` : '';
    process.stderr.write(`${new Date(Number(entry.timestampNanos / 1_000_000n)).toISOString()} ${entry.level} [temporal] ${entry.message}${meta}\n`);
  });
  Runtime.install({
    logger,
    telemetryOptions: { logging: { filter: { core: 'WARN', other: 'ERROR' }, forward: {} } },
  });
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
  } catch {
    return '';
  }
}
