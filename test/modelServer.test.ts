import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { startModelServer, type ModelServer } from './support/modelServer.js';
import { startSinkServer } from './support/sinkServer.js';

describe('test model server (real openai client)', () => {
  let server: ModelServer;
  let openai: OpenAI;

  before(async () => {
    server = await startModelServer();
    openai = new OpenAI({ baseURL: server.baseUrl, apiKey: 'test-key', maxRetries: 0, timeout: 10_000 });
  });
  after(async () => {
    await server.close();
  });

  it('serves scripted tool calls, then the answer, then repeats the last step', async () => {
    server.script('selftest-a', [
      { toolCalls: [{ name: 'http_request', arguments: { method: 'GET', url: 'http://x/y' } }] },
      { content: 'done' },
    ]);
    const messages: OpenAI.Chat.ChatCompletionMessageParam[] = [{ role: 'user', content: 'do it [script:selftest-a]' }];
    const r1 = await openai.chat.completions.create({ model: 'test-model', messages });
    const call = r1.choices[0]?.message.tool_calls?.[0];
    assert.ok(call && call.type === 'function');
    assert.equal(call.function.name, 'http_request');
    assert.deepEqual(JSON.parse(call.function.arguments), { method: 'GET', url: 'http://x/y' });
    assert.equal(r1.choices[0]?.finish_reason, 'tool_calls');
    assert.ok((r1.usage?.prompt_tokens ?? 0) > 0);

    const r2 = await openai.chat.completions.create({
      model: 'test-model',
      messages: [
        ...messages,
        r1.choices[0]!.message,
        { role: 'tool', tool_call_id: call.id, content: '{"status":200}' },
      ],
    });
    assert.equal(r2.choices[0]?.message.content, 'done');
    assert.equal(r2.choices[0]?.finish_reason, 'stop');
    assert.ok((r2.usage?.completion_tokens ?? 0) > 0);

    const r3 = await openai.chat.completions.create({ model: 'test-model', messages });
    assert.equal(r3.choices[0]?.message.content, 'done');

    const reqs = server.requests('selftest-a');
    assert.equal(reqs.length, 3);
    assert.equal(reqs[1].messages[2].role, 'tool');
  });

  it('serves HTTP errors the openai client maps to typed errors', async () => {
    server.script('selftest-b', [{ status: 401, body: { error: { message: 'bad key' } } }]);
    await assert.rejects(
      openai.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: '[script:selftest-b]' }] }),
      (err: unknown) => {
        assert.ok(err instanceof OpenAI.AuthenticationError);
        assert.equal(err.status, 401);
        assert.match(err.message, /bad key/);
        return true;
      },
    );
    server.script('selftest-c', [{ status: 429, headers: { 'retry-after': '1' } }, { content: 'ok' }]);
    await assert.rejects(
      openai.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: '[script:selftest-c]' }] }),
      (err: unknown) => err instanceof OpenAI.RateLimitError && err.headers.get('retry-after') === '1',
    );
    const ok = await openai.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: '[script:selftest-c]' }] });
    assert.equal(ok.choices[0]?.message.content, 'ok');
    assert.equal(server.requests('selftest-c').length, 2);
  });

  it('supports delays, function steps and unknown markers', async () => {
    server.script('selftest-d', [
      { delayMs: 200, then: { content: 'late' } },
      (req: any) => ({ content: `saw ${req.messages.length} messages` }),
    ]);
    const t0 = Date.now();
    const r1 = await openai.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: '[script:selftest-d]' }] });
    assert.ok(Date.now() - t0 >= 180);
    assert.equal(r1.choices[0]?.message.content, 'late');
    const r2 = await openai.chat.completions.create({
      model: 'm',
      messages: [
        { role: 'system', content: 'sys' },
        { role: 'user', content: '[script:selftest-d]' },
      ],
    });
    assert.equal(r2.choices[0]?.message.content, 'saw 2 messages');
    await assert.rejects(openai.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'no marker' }] }));
    assert.equal(server.unmatched().length, 1);
  });

  it('sink records requests and idempotency keys', async () => {
    const sink = await startSinkServer();
    try {
      const r = await fetch(sink.url + '/p?q=1', { method: 'POST', headers: { 'Idempotency-Key': 'k1' }, body: 'hi' });
      assert.deepEqual(await r.json(), { ok: true, n: 1 });
      await fetch(sink.url + '/g');
      assert.equal(sink.requests().length, 2);
      assert.equal(sink.requests()[0]?.method, 'POST');
      assert.equal(sink.requests()[0]?.path, '/p?q=1');
      assert.equal(sink.requests()[0]?.body, 'hi');
      assert.deepEqual(sink.idempotencyKeys(), ['k1']);
    } finally {
      await sink.close();
    }
  });
});
