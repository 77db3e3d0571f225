/** Spawns a local Temporal dev server for tests (never writing to the test's stdout). */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Connection } from '@temporalio/client';
import { DEV_SERVER_SEARCH_ATTRIBUTE_ARGS } from '../../src/shared/searchAttributes.js';
import { EMBEDDED_DEV_SERVER_TUNING } from '../../src/temporal/devServer.js';

const here = path.dirname(fileURLToPath(import.meta.url));
/** dist/test/support → repo root */
export const repoRoot = path.resolve(here, '..', '..', '..');

export function temporalCliPath(): string {
  return process.env.TEMPORAL_CLI_PATH || path.join(repoRoot, '.venv', 'bin', 'temporal');
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

export interface DevServer {
  address: string;
  dir: string;
  logFile: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

export interface DevServerOptions {
  /** Reuse a directory (and so a SQLite file) across restarts. */
  dir?: string;
  /** Fixed port, e.g. to restart on the same address. */
  port?: number;
  extraArgs?: string[];
  /** Register list_runs' search attributes, as the embedded dev server does (default true; false: a namespace without them). */
  searchAttributes?: boolean;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export async function startDevServer(opts: DevServerOptions = {}): Promise<DevServer> {
  const dir = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'da-temporal-'));
  fs.mkdirSync(dir, { recursive: true });
  const port = opts.port ?? (await freePort());
  const uiPort = await freePort();
  const logFile = path.join(dir, `dev-server-${port}.log`);
  const logFd = fs.openSync(logFile, 'a');
  const args = [
    'server',
    'start-dev',
    '--headless',
    '--ip',
    '127.0.0.1',
    '--port',
    String(port),
    '--ui-port',
    String(uiPort),
    '--db-filename',
    path.join(dir, 't.db'),
    '--log-level',
    'warn',
    // Tests run on the settings users' embedded dev server has.
    ...EMBEDDED_DEV_SERVER_TUNING,
    ...(opts.searchAttributes === false ? [] : DEV_SERVER_SEARCH_ATTRIBUTE_ARGS),
    ...(opts.extraArgs ?? []),
  ];
  const child = spawn(temporalCliPath(), args, { stdio: ['ignore', logFd, logFd] });
  fs.closeSync(logFd);
  let exited = false;
  let exitInfo = '';
  const exitPromise = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = true;
      exitInfo = `code=${code} signal=${signal}`;
      resolve();
    });
  });
  child.once('error', (err) => {
    exited = true;
    exitInfo = String(err);
  });

  const address = `127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  let lastErr: unknown;
  for (;;) {
    if (exited) {
      throw new Error(`temporal dev server exited early (${exitInfo}); log: ${safeRead(logFile)}`);
    }
    try {
      const conn = await Connection.connect({ address, connectTimeout: 2_000 });
      try {
        await conn.workflowService.getSystemInfo({});
        // make sure the default namespace is usable
        await conn.workflowService.describeNamespace({ namespace: 'default' });
      } finally {
        await conn.close();
      }
      break;
    } catch (err) {
      lastErr = err;
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`temporal dev server not ready after 60 s: ${String(lastErr)}; log: ${safeRead(logFile)}`);
      }
      await sleep(250);
    }
  }

  return {
    address,
    dir,
    logFile,
    child,
    async stop() {
      if (exited) return;
      child.kill('SIGTERM');
      const killTimer = setTimeout(() => {
        if (!exited) child.kill('SIGKILL');
      }, 5_000);
      await exitPromise;
      clearTimeout(killTimer);
    },
  };
}

function safeRead(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8').slice(-4000);
  } catch {
    return '(no log)';
  }
}
