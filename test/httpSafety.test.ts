/**
 * http_request is driven by the model, so it is tested as an attacker would use it, through the real
 * worker: loopback in every spelling refused by default (the sink never hit), opened by
 * DURABLE_AGENT_HTTP_ALLOW; a redirect to a refused address refused at its hop; credentials dropped
 * on a cross-origin redirect; an approved write never re-sent to another origin; writes dressed as
 * reads gated. Two servers (default policy, and loopback allowed) on one dev server.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startModelServer, type ModelServer } from './support/modelServer.js';
import { spawnServer, type SpawnedServer } from './support/mcpStdio.js';
import { runHelpers, toolMessages } from './support/runs.js';
import { startSinkServer, type SinkServer } from './support/sinkServer.js';
import { startDevServer, type DevServer } from './support/temporal.js';
import { waitFor } from './support/wait.js';

const ALLOW_HINT = /request refused: .* unless --http-allow \/ DURABLE_AGENT_HTTP_ALLOW allows them/;
const ALWAYS = /request refused: .*refuses it always, whatever --http-allow \/ DURABLE_AGENT_HTTP_ALLOW says/;

describe('http_request safety (e2e)', { timeout: 5 * 60_000 }, () => {
  let dev: DevServer;
  let model: ModelServer;
  /** Two origins on 127.0.0.1, and one on 127.0.0.2 (loopback too, but not allowed below). */
  let a: SinkServer;
  let b: SinkServer;
  let lo2: SinkServer;
  /** Default policy. */
  let strict: SpawnedServer;
  /** DURABLE_AGENT_HTTP_ALLOW=127.0.0.1, as a developer would set it. */
  let open: SpawnedServer;

  const env = (name: string, allow: string | undefined) => ({
    TEMPORAL_ADDRESS: dev.address,
    OPENAI_BASE_URL: model.baseUrl,
    OPENAI_API_KEY: 'test-key',
    DURABLE_AGENT_MODEL: 'test-model',
    DURABLE_AGENT_HOME: fs.mkdtempSync(path.join(os.tmpdir(), 'da-home-')),
    DURABLE_AGENT_NO_SERVICE: '1',
    DURABLE_AGENT_TASK_QUEUE: `http-safety-${name}-${process.pid}`,
    DURABLE_AGENT_HTTP_ALLOW: allow,
    DURABLE_AGENT_HTTP_DENY: undefined,
  });

  before(async () => {
    [dev, model, a, b, lo2] = await Promise.all([
      startDevServer(),
      startModelServer(),
      startSinkServer(),
      startSinkServer(),
      startSinkServer({ host: '127.0.0.2' }),
    ]);
    [strict, open] = await Promise.all([spawnServer({ env: env('strict', undefined) }), spawnServer({ env: env('open', '127.0.0.1') })]);
  });
  after(async () => {
    await Promise.all([strict?.close(), open?.close()]);
    await Promise.all([dev?.stop(), model?.close(), a?.close(), b?.close(), lo2?.close()]);
  });

  const onStrict = runHelpers(() => strict.client);
  const onOpen = runHelpers(() => open.client);
  const get = (url: string, extra: Record<string, unknown> = {}) => ({ name: 'http_request', arguments: { method: 'GET', url, ...extra } });
  const hits = (sink: SinkServer, prefix: string) => sink.requests().filter((r) => r.path.startsWith(prefix));
  const port = (sink: SinkServer) => new URL(sink.url).port;
  /** Approves `count` approvals of a run, one after the other, as they appear. */
  async function approveEach(runId: string, count: number): Promise<void> {
    const decided = new Set<string>();
    while (decided.size < count) {
      let next: string | undefined;
      await waitFor(`approval ${decided.size + 1} of ${runId}`, async () => {
        next = (await onOpen.status(runId)).pendingApprovals.find((p) => !decided.has(p.approvalId))?.approvalId;
        return next !== undefined;
      });
      await onOpen.decide(runId, next!, 'approve');
      decided.add(next!);
    }
  }
  /** The observations the model received for its first turn's tool calls. */
  const observations = (script: string) => toolMessages(model.requests(script)[1]);

  describe('in parallel', { concurrency: true }, () => {
    it('by default, loopback in any spelling and metadata in any form are refused, and the sink is never hit', async () => {
      const p = port(a);
      const urls = [
        `http://127.0.0.1:${p}/d-plain`,
        `http://[::ffff:127.0.0.1]:${p}/d-mapped`,
        `http://localhost.:${p}/d-localhost`,
        `http://0x7f.1:${p}/d-short`,
        `http://[64:ff9b::7f00:1]:${p}/d-nat64`,
        `${lo2.url}/d-lo2`,
      ];
      const metadata = ['http://[::ffff:169.254.169.254]/latest/meta-data/', 'http://100.100.100.200/latest/meta-data/'];
      model.script('ssrf-default', [{ toolCalls: [...urls, ...metadata].map((u) => get(u)) }, { content: 'nothing reachable' }]);
      const final = await onStrict.result(await onStrict.start({ task: 'probe [script:ssrf-default]' }));
      assert.equal(final.status, 'completed');
      const seen = observations('ssrf-default');
      assert.equal(seen.length, urls.length + metadata.length);
      seen.slice(0, urls.length).forEach((text, i) => assert.match(text, ALLOW_HINT, urls[i]));
      seen.slice(urls.length).forEach((text, i) => assert.match(text, ALWAYS, metadata[i]));
      assert.match(seen[0]!, /127\.0\.0\.1 is a loopback address/);
      assert.match(seen[1]!, /IPv4-mapped form of 127\.0\.0\.1/);
      assert.match(seen[2]!, /localhost \(127\.0\.0\.1\) is a loopback address/);
      assert.equal(hits(a, '/d-').length, 0, 'nothing reached the sink');
      assert.equal(hits(lo2, '/d-').length, 0);
    });

    it('with DURABLE_AGENT_HTTP_ALLOW=127.0.0.1 the same GET reaches the sink', async () => {
      model.script('allowed', [
        { toolCalls: [get(`${a.url}/ok-plain`), get(`http://localhost.:${port(a)}/ok-localhost`)] },
        { content: 'read both' },
      ]);
      const final = await onOpen.result(await onOpen.start({ task: 'read [script:allowed]' }));
      assert.equal(final.status, 'completed');
      assert.equal(hits(a, '/ok-plain').length, 1);
      assert.equal(hits(a, '/ok-localhost').length, 1);
      for (const text of observations('allowed')) assert.match(text, /"status":200/);
    });

    it('a redirect from an allowed host to a refused one is refused at that hop', async () => {
      const toLo2 = `${a.url}/redirect?to=${encodeURIComponent(`${lo2.url}/r-lo2`)}`;
      const toMetadata = `${a.url}/redirect?to=${encodeURIComponent('http://169.254.169.254/latest/meta-data/')}`;
      model.script('redir-refused', [{ toolCalls: [get(toLo2), get(toMetadata)] }, { content: 'redirects refused' }]);
      const final = await onOpen.result(await onOpen.start({ task: 'follow [script:redir-refused]' }));
      assert.equal(final.status, 'completed');
      const [first, second] = observations('redir-refused');
      assert.match(first!, ALLOW_HINT);
      assert.match(first!, /redirect to http:\/\/127\.0\.0\.2:\d+\/r-lo2: 127\.0\.0\.2 is a loopback address/);
      assert.match(second!, ALWAYS);
      assert.equal(hits(lo2, '/r-lo2').length, 0, 'the refused hop was never sent');
      assert.equal(hits(a, '/redirect').length >= 2, true, 'the first hops were');
    });

    it('a cross-origin GET redirect arrives without Authorization, Cookie or other credentials; a same-origin one keeps them', async () => {
      const headers = { Authorization: 'Bearer s3cret', Cookie: 'sid=abc', 'X-Api-Key': 'k-123', 'X-Session-Token': 't', 'X-Trace': 'keep-me' };
      const cross = `${a.url}/redirect?to=${encodeURIComponent(`${b.url}/landing-cross`)}`;
      const same = `${a.url}/redirect?to=${encodeURIComponent(`${a.url}/landing-same`)}`;
      model.script('creds', [{ toolCalls: [get(cross, { headers }), get(same, { headers })] }, { content: 'landed' }]);
      const final = await onOpen.result(await onOpen.start({ task: 'follow [script:creds]' }));
      assert.equal(final.status, 'completed');
      const [landed] = hits(b, '/landing-cross');
      assert.ok(landed, 'the cross-origin hop was followed');
      for (const name of ['authorization', 'cookie', 'x-api-key', 'x-session-token']) assert.equal(landed.headers[name], undefined, name);
      assert.equal(landed.headers['x-trace'], 'keep-me', 'other headers travel on');
      const firstHop = a.requests().find((r) => r.path.startsWith('/redirect') && r.path.includes('landing-cross'));
      assert.equal(firstHop?.headers.authorization, 'Bearer s3cret', 'the first hop had them');
      assert.equal(landed.headers['idempotency-key'], firstHop?.headers['idempotency-key'], 'one call, one key');
      const [sameLanded] = hits(a, '/landing-same');
      assert.equal(sameLanded?.headers.authorization, 'Bearer s3cret');
      assert.equal(sameLanded?.headers.cookie, 'sid=abc');
    });

    it('an approved POST to A redirected to B is not re-sent to B; same-origin redirects behave as HTTP says', async () => {
      const post = (url: string) => ({ name: 'http_request', arguments: { method: 'POST', url, body: '{"pay":1}' } });
      const redirect = (sink: SinkServer, to: string, status: number) =>
        `${a.url}/redirect?status=${status}&to=${encodeURIComponent(`${sink.url}${to}`)}`;
      model.script('post-redir', [
        { toolCalls: [post(redirect(b, '/stolen', 307)), post(redirect(a, '/kept-307', 307)), post(redirect(a, '/after-302', 302))] },
        { content: 'posted' },
      ]);
      const runId = await onOpen.start({ task: 'pay [script:post-redir]' });
      await approveEach(runId, 3);
      const final = await onOpen.result(runId);
      assert.equal(final.status, 'completed');
      assert.equal(hits(b, '/stolen').length, 0, 'B got nothing');
      assert.equal(b.requests().filter((r) => r.method !== 'GET').length, 0, 'no write reached B');
      const [cross] = observations('post-redir');
      assert.match(cross!, /"status":307/);
      assert.ok(cross!.includes(`${b.url}/stolen`), 'the observation shows where it was redirected');
      const kept = hits(a, '/kept-307');
      assert.deepEqual(kept.map((r) => [r.method, r.body]), [['POST', '{"pay":1}']], '307 same-origin keeps method and body');
      const after302 = hits(a, '/after-302');
      assert.deepEqual(after302.map((r) => [r.method, r.body]), [['GET', '']], '302 same-origin becomes a GET without body');
    });

    it('a GET with a body and a GET or HEAD with a method-override header wait for approval', async () => {
      const dressed = {
        body: get(`${a.url}/dw-body`, { body: '{"delete":true}' }),
        override: get(`${a.url}/redirect?to=${encodeURIComponent(`${b.url}/dw-stolen`)}`, { headers: { 'X-HTTP-Method-Override': 'DELETE' } }),
        head: { name: 'http_request', arguments: { method: 'HEAD', url: `${a.url}/dw-head`, headers: { 'x-method-override': 'PUT' } } },
      };
      const runs = await Promise.all(
        Object.entries(dressed).map(async ([key, call]) => {
          model.script(`dw-${key}`, [{ toolCalls: [call] }, { content: `done ${key}` }]);
          return [key, await onOpen.start({ task: `dressed [script:dw-${key}]` })] as const;
        }),
      );
      for (const [key, runId] of runs) {
        const view = await onOpen.waitForApproval(runId);
        assert.equal(view.status, 'waiting_for_approval', key);
        assert.equal(view.pendingApprovals.length, 1, key);
        assert.equal(view.pendingApprovals[0]!.tool, 'http_request');
      }
      const dressedHits = () => a.requests().filter((r) => r.path.includes('dw-')).length;
      assert.equal(dressedHits(), 0, 'nothing sent before approval');
      const byKey = new Map(runs);
      const override = byKey.get('override')!;
      assert.match((await onOpen.status(override)).pendingApprovals[0]!.summary, /as DELETE \(X-HTTP-Method-Override\)/);
      // Approved, the dressed write is still a write: its cross-origin redirect is not followed.
      await onOpen.decide(override, (await onOpen.status(override)).pendingApprovals[0]!.approvalId, 'approve');
      for (const key of ['body', 'head']) {
        const runId = byKey.get(key)!;
        await onOpen.decide(runId, (await onOpen.status(runId)).pendingApprovals[0]!.approvalId, 'reject');
      }
      for (const [key, runId] of runs) assert.equal((await onOpen.result(runId)).status, 'completed', key);
      assert.equal(dressedHits(), 1, 'only the approved call was sent; the rejected ones never were');
      assert.equal(hits(b, '/dw-stolen').length, 0);
      assert.match(observations('dw-override')[0]!, /"status":302/);
    });
  });
});
