/** compactTranscript keeps workflow state bounded without breaking tool-call pairing. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compactTranscript, type ChatMessage } from '../src/shared/contract.js';

function turn(i: number, size: number): ChatMessage[] {
  return [
    { role: 'assistant', content: null, toolCalls: [{ id: `c${i}`, name: 'http_request', arguments: '{}' }] },
    { role: 'tool', toolCallId: `c${i}`, content: 'y'.repeat(size) },
  ];
}

describe('compactTranscript', () => {
  const head: ChatMessage[] = [
    { role: 'system', content: 'sys' },
    { role: 'user', content: 'task' },
  ];

  it('leaves a small transcript alone', () => {
    const messages = [...head, ...turn(1, 10)];
    assert.equal(compactTranscript(messages, 1000), messages);
  });

  it('drops the oldest whole turns, keeps the task, and never splits a tool call from its result', () => {
    const messages = [...head, ...Array.from({ length: 50 }, (_, i) => turn(i, 100)).flat()];
    const compacted = compactTranscript(messages, 2_000);
    const chars = compacted.reduce((n, m) => n + (m.role === 'assistant' ? 0 : m.content.length), 0);
    assert.ok(chars <= 2_000 + 200);
    assert.deepEqual(compacted.slice(0, 2), head);
    assert.match((compacted[2] as { content: string }).content, /earlier messages of this run were dropped/);
    assert.equal(compacted[3]!.role, 'assistant', 'the kept part starts with a whole turn');
    const last = compacted[compacted.length - 1]!;
    assert.deepEqual(last, messages[messages.length - 1], 'the newest turn is kept');
    // Compacting again replaces the note instead of stacking notes.
    const again = compactTranscript([...compacted, ...turn(99, 1_500)], 2_000);
    assert.equal(again.filter((m) => m.role === 'user').length, 2);
  });
});
