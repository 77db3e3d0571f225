/**
 * What users install: the MCP Bundle (`npm run pack:mcpb`, checked with the mcpb CLI) and the npm
 * package (`npm pack`, installed into an empty directory and run from there over stdio).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { callTool, repoRoot, spawnServer } from './support/mcpStdio.js';
import { freePort } from './support/temporal.js';

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const manifest = JSON.parse(fs.readFileSync(path.join(repoRoot, 'manifest.json'), 'utf8')) as {
  tools: Array<{ name: string }>;
  user_config: Record<string, { sensitive?: boolean }>;
};

/** Entries of a zip file, via Python's zipfile (no unzip binary needed). */
function zipEntries(file: string): string[] {
  const out = execFileSync('python3', ['-c', 'import sys, zipfile; print("\\n".join(zipfile.ZipFile(sys.argv[1]).namelist()))', file], {
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  return out.split('\n').filter(Boolean);
}

describe('packaging', { timeout: 8 * 60_000 }, () => {
  it('manifest.json passes `mcpb validate`, declares the sensitive settings, and lists exactly the served tools', async () => {
    const res = spawnSync(path.join(repoRoot, 'node_modules', '.bin', 'mcpb'), ['validate', path.join(repoRoot, 'manifest.json')], { encoding: 'utf8' });
    assert.equal(res.status, 0, res.stdout + res.stderr);
    for (const key of ['openai_api_key', 'temporal_api_key']) assert.equal(manifest.user_config[key]?.sensitive, true, key);
    for (const key of ['openai_base_url', 'model', 'temporal_address', 'temporal_namespace', 'workspace']) assert.ok(manifest.user_config[key], key);

    // tools/list needs no Temporal: point at a closed port.
    const server = await spawnServer({ env: { TEMPORAL_ADDRESS: `127.0.0.1:${await freePort()}`, DURABLE_AGENT_NO_SERVICE: '1' } });
    try {
      const served = (await server.client.listTools()).tools.map((t) => t.name).sort();
      assert.deepEqual(manifest.tools.map((t) => t.name).sort(), served);
    } finally {
      await server.close();
    }
  });

  it('npm run pack:mcpb builds a bundle with only what runs', () => {
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'da-mcpb-')), 'durable-agent-mcp.mcpb');
    execFileSync('bash', [path.join(repoRoot, 'scripts', 'pack-mcpb.sh'), out], { stdio: ['ignore', 'ignore', 'inherit'], timeout: 5 * 60_000 });
    const entries = zipEntries(out);
    for (const needed of ['manifest.json', 'dist/src/cli.js', 'dist/workflow-bundle.js', 'node_modules/@temporalio/worker/package.json', 'node_modules/openai/package.json']) {
      assert.ok(entries.includes(needed), `${needed} is in the bundle`);
    }
    const stray = entries.filter(
      (e) =>
        /^(src|test|scripts|\.ci)\//.test(e) ||
        /^node_modules\/(typescript|eslint|@anthropic-ai\/mcpb|@modelcontextprotocol\/(server-|conformance)|node-(bin-)?(linux|darwin|win)-)/.test(e) ||
        (!e.startsWith('node_modules/') && e.endsWith('.ts') && !e.endsWith('.d.ts')),
    );
    assert.deepEqual(stray.slice(0, 10), [], 'no sources, tests or dev dependencies');
  });

  it('npm pack: the tarball installs into an empty directory and serves over stdio from there', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'da-npm-'));
    const tarball = path.join(dir, execFileSync(npm, ['pack', '--silent', '--pack-destination', dir], { cwd: repoRoot, encoding: 'utf8' }).trim().split('\n').pop()!);
    const files = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).split('\n').filter(Boolean);
    assert.ok(files.includes('package/dist/src/cli.js'));
    assert.ok(files.includes('package/dist/workflow-bundle.js'));
    assert.ok(!files.some((f) => /^package\/(src|test|scripts)\//.test(f)), 'no sources or tests');
    assert.match(fs.readFileSync(path.join(repoRoot, 'dist', 'src', 'cli.js'), 'utf8'), /^#!\/usr\/bin\/env node/);

    const app = path.join(dir, 'app');
    fs.mkdirSync(app);
    fs.writeFileSync(path.join(app, 'package.json'), '{"name":"empty","version":"1.0.0","private":true}');
    execFileSync(npm, ['install', '--omit=dev', '--no-audit', '--no-fund', '--ignore-scripts', tarball], { cwd: app, stdio: ['ignore', 'ignore', 'inherit'], timeout: 5 * 60_000 });
    // The conformance suite and its Node 22 (test/conformance) never come along.
    const installed = fs.readdirSync(path.join(app, 'node_modules')).flatMap((d) => (d.startsWith('@') ? fs.readdirSync(path.join(app, 'node_modules', d)).map((n) => `${d}/${n}`) : [d]));
    assert.deepEqual(installed.filter((d) => /^(@modelcontextprotocol\/conformance|node-(bin-)?(linux|darwin|win)-)/.test(d)), [], 'no conformance suite or Node binary installed');
    const help = spawnSync(npm, ['exec', '--offline', '--', 'durable-agent-mcp', '--help'], { cwd: app, encoding: 'utf8', timeout: 60_000 });
    assert.equal(help.status, 0, help.stderr);
    assert.match(help.stdout, /Usage: durable-agent-mcp/);

    const bin = path.join(app, 'node_modules', '.bin', 'durable-agent-mcp');
    const server = await spawnServer({ command: bin, env: { TEMPORAL_ADDRESS: `127.0.0.1:${await freePort()}`, DURABLE_AGENT_NO_SERVICE: '1' } });
    try {
      const names = (await server.client.listTools()).tools.map((t) => t.name);
      assert.ok(names.includes('start_agent_run') && names.includes('get_run_history'), names.join(', '));
      const res = await callTool(server.client, 'list_runs', {});
      assert.equal(res.isError, true, 'no Temporal here: a clear error, not a crash');
    } finally {
      await server.close();
    }
  });
});
