// Lore, turn contexts and save games against a real server.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { NarratorClient, collectTurn } from '../src/index.js';
import { useServer } from '../support/use-server.js';
import { PLAYER, SCENE, SETTING, expectNarratorError } from '../support/util.js';

describe('memory', () => {
  const ctx = useServer({ keys: [{ name: 'studio' }, { name: 'rival' }], client: (server) => ({ apiKey: server.keys.studio, deadlineMs: 30_000 }) });

  test('lore entries: add, replace, list in pages by priority, delete', async () => {
    const { sessionId } = await ctx.client.createSession({ setting: SETTING, player: PLAYER });
    const mirela = await ctx.client.putLoreEntry(sessionId, {
      keys: ['Mirela', 'the smuggler queen'],
      content: 'Mirela owes Aldric a life debt.',
      priority: 5,
    });
    assert.match(mirela.entryId, /^[A-Za-z0-9_.:-]{1,64}$/);
    assert.deepEqual(mirela.keys, ['Mirela', 'the smuggler queen']);
    assert.equal(mirela.priority, 5);
    assert.equal(mirela.alwaysOn, false);
    assert.ok(mirela.updateTime instanceof Date);
    const quest = await ctx.client.putLoreEntry(sessionId, { content: 'Aldric seeks the drowned crown.', alwaysOn: true, priority: 50 });
    const gate = await ctx.client.putLoreEntry(sessionId, { keys: ['black gate'], content: 'The black gate opens at low tide.' });

    const replaced = await ctx.client.putLoreEntry(sessionId, { ...mirela, content: 'Mirela owes Aldric two life debts.', priority: 60 });
    assert.equal(replaced.entryId, mirela.entryId);
    assert.equal(replaced.content, 'Mirela owes Aldric two life debts.');

    const first = await ctx.client.listLoreEntries(sessionId, { pageSize: 2 });
    assert.deepEqual(first.entries.map((e) => e.entryId), [mirela.entryId, quest.entryId]);
    assert.ok(first.nextPageToken);
    const second = await ctx.client.listLoreEntries(sessionId, { pageSize: 2, pageToken: first.nextPageToken });
    assert.deepEqual(second.entries.map((e) => e.entryId), [gate.entryId]);
    assert.equal(second.nextPageToken, '');
    const all = [];
    for await (const entry of ctx.client.loreEntries(sessionId, { pageSize: 1 })) all.push(entry.entryId);
    assert.deepEqual(all, [mirela.entryId, quest.entryId, gate.entryId]);

    await ctx.client.deleteLoreEntry(sessionId, gate.entryId);
    await expectNarratorError(ctx.client.deleteLoreEntry(sessionId, gate.entryId), 'NOT_FOUND');
    assert.equal((await ctx.client.listLoreEntries(sessionId)).entries.length, 2);
  });

  test('a bad entry is INVALID_ARGUMENT on its field and stores nothing; another tenant gets NOT_FOUND', async () => {
    const { sessionId } = await ctx.client.createSession({ setting: SETTING, player: PLAYER });
    const noKeys = await expectNarratorError(ctx.client.putLoreEntry(sessionId, { content: 'keyless' }), 'INVALID_ARGUMENT');
    assert.ok(noKeys.fieldViolations.some((v) => v.field.startsWith('entry.keys')), JSON.stringify(noKeys.fieldViolations));
    const long = await expectNarratorError(ctx.client.putLoreEntry(sessionId, { keys: ['x'], content: 'y'.repeat(2001) }), 'INVALID_ARGUMENT');
    assert.ok(long.fieldViolations.some((v) => v.field === 'entry.content'), JSON.stringify(long.fieldViolations));
    await expectNarratorError(ctx.client.putLoreEntry(sessionId, { entryId: 'no-such-entry', keys: ['x'], content: 'y' }), 'NOT_FOUND');
    assert.equal((await ctx.client.listLoreEntries(sessionId)).entries.length, 0);

    const other = new NarratorClient(ctx.server.address, { apiKey: ctx.server.keys.rival });
    try {
      await expectNarratorError(other.putLoreEntry(sessionId, { keys: ['x'], content: 'y' }), 'NOT_FOUND');
      await expectNarratorError(other.listLoreEntries(sessionId), 'NOT_FOUND');
      await expectNarratorError(other.getTurnContext(sessionId), 'NOT_FOUND');
      await expectNarratorError(other.exportSession(sessionId), 'NOT_FOUND');
    } finally {
      other.close();
    }
  });

  test("a turn's context shows the lore whose key matched, and a preview of the next turn", async () => {
    const { sessionId } = await ctx.client.createSession({ setting: SETTING, player: PLAYER });
    const lore = await ctx.client.putLoreEntry(sessionId, { keys: ['Mirela'], content: 'Mirela owes Aldric a life debt.' });
    const turn = await collectTurn(ctx.client.narrate({ sessionId, action: 'I ask Mirela about the debt', scene: SCENE }));

    const context = await ctx.client.getTurnContext(sessionId, turn.turnId);
    assert.equal(context.turnId, turn.turnId);
    const kinds = context.sections.map((s) => s.kind);
    assert.equal(kinds[0], 'CONTEXT_SECTION_KIND_SYSTEM');
    assert.equal(kinds.at(-1), 'CONTEXT_SECTION_KIND_INPUT');
    const loreSection = context.sections.find((s) => s.kind === 'CONTEXT_SECTION_KIND_LORE');
    assert.equal(loreSection?.loreEntryId, lore.entryId);
    assert.equal(loreSection?.matchedKey.toLowerCase(), 'mirela');
    assert.match(loreSection?.text ?? '', /life debt/);
    assert.equal(context.totalTokens, context.sections.reduce((n, s) => n + s.tokens, 0));
    assert.ok(context.totalTokens <= context.budgetTokens);

    const preview = await ctx.client.getTurnContext(sessionId);
    assert.equal(preview.turnId, '');
    const history = preview.sections.filter((s) => s.kind === 'CONTEXT_SECTION_KIND_HISTORY');
    assert.deepEqual(history.map((s) => s.turnId), [turn.turnId]);
    await expectNarratorError(ctx.client.getTurnContext(sessionId, 'no-such-turn'), 'NOT_FOUND');
  });

  test('a save game exports and imports as a new session with the same turns and lore', async () => {
    const { sessionId } = await ctx.client.createSession({ setting: SETTING, player: PLAYER, seed: 99 });
    await ctx.client.putLoreEntry(sessionId, { keys: ['crown'], content: 'The drowned crown lies under the black gate.' });
    const turns = [];
    for (const action of ['I dive for the crown', 'I swim back up']) {
      turns.push(await collectTurn(ctx.client.narrate({ sessionId, action, scene: SCENE })));
    }
    const document = await ctx.client.exportSession(sessionId);
    const parsed = JSON.parse(document);
    assert.equal(parsed.format, 'narrator.session');
    assert.equal(parsed.version, 1);
    assert.ok(!document.includes(ctx.server.keys.studio), 'the API key is in the save game');

    const restored = await ctx.client.importSession(document);
    assert.notEqual(restored.sessionId, sessionId);
    assert.equal(restored.seed, '99');
    const again = await ctx.client.getSession(restored.sessionId);
    assert.deepEqual(again.recentTurns.map((t) => [t.turnId, t.text]), turns.map((t) => [t.turnId, t.text]));
    const lore = await ctx.client.listLoreEntries(restored.sessionId);
    assert.deepEqual(lore.entries.map((e) => e.content), ['The drowned crown lies under the black gate.']);

    const bad = await expectNarratorError(ctx.client.importSession('{"format": "narrator.session", "version": 99}'), 'INVALID_ARGUMENT');
    assert.ok(bad.fieldViolations.every((v) => v.field.startsWith('document')), JSON.stringify(bad.fieldViolations));
  });
});
