/** Helpers for tests of the background service: a data dir, its CLI, its state, its fronts. */
import { execFileSync, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cliPath, spawnServer, type SpawnedServer } from './mcpStdio.js';
import { temporalCliPath } from './temporal.js';

export interface ServiceStateFile {
  pid: number;
  temporalAddress: string;
  worker: boolean;
}

/** One data dir with the default (service) stdio mode; `base` supplies the model and other env. */
export class ServiceHome {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'da-svc-'));

  constructor(private readonly base: () => Record<string, string | undefined>) {}

  env(extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
    return {
      TEMPORAL_ADDRESS: undefined,
      DURABLE_AGENT_NO_SERVICE: undefined,
      TEMPORAL_CLI_PATH: temporalCliPath(),
      ...this.base(),
      DURABLE_AGENT_HOME: this.dir,
      ...extra,
    };
  }

  /** Runs the CLI to completion (`service status`, `service stop`, ...). */
  cli(args: string[], extra: Record<string, string | undefined> = {}): SpawnSyncReturns<string> {
    const e: Record<string, string> = {};
    for (const [k, v] of Object.entries({ ...process.env, ...this.env(extra) })) if (v !== undefined) e[k] = v;
    return spawnSync(process.execPath, [cliPath, ...args], { env: e, encoding: 'utf8', timeout: 60_000 });
  }

  /** A stdio front, as an MCP client would spawn it. */
  front(extra: Record<string, string | undefined> = {}, args: string[] = []): Promise<SpawnedServer> {
    return spawnServer({ env: this.env(extra), args });
  }

  /** The service's state file, if one was written. */
  state(): ServiceStateFile | undefined {
    try {
      return JSON.parse(fs.readFileSync(path.join(this.dir, 'service', 'service.json'), 'utf8')) as ServiceStateFile;
    } catch {
      return undefined;
    }
  }

  /** The embedded dev server's state file, if one was written. */
  devServer(): { pid: number; address: string } | undefined {
    try {
      return JSON.parse(fs.readFileSync(path.join(this.dir, 'temporal', 'dev-server.json'), 'utf8')) as { pid: number; address: string };
    } catch {
      return undefined;
    }
  }

  stop(): void {
    this.cli(['service', 'stop']);
  }
}

/** Closes a front's stdin as a quitting client does; resolves with how long it took to exit. */
export async function closeFront(front: SpawnedServer): Promise<number> {
  const t0 = Date.now();
  if (front.child.exitCode !== null || front.child.signalCode !== null) return 0;
  const exited = new Promise<void>((resolve) => front.child.once('exit', () => resolve()));
  front.child.stdin?.end();
  await exited;
  return Date.now() - t0;
}

/** Processes whose command line mentions `text` (the service's dev server names the data dir). */
export function processesMentioning(text: string): string[] {
  const out = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' });
  return out.split('\n').filter((l) => l.includes(text) && !l.includes('ps -eo'));
}
