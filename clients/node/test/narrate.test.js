import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { collectTurn } from '../src/index.js';
import { useServer } from '../support/use-server.js';
import { PLAYER, SCENE, SETTING, allEvents, checkTurnEvents, expectNarratorError } from '../support/util.js';

const FINISH_REASONS = ['FINISH_REASON_UNSPECIFIED', 'FINISH_REASON_STOP', 'FINISH_REASON_LENGTH', 'FINISH_REASON_CONTENT_FILTER'];

describe('narrate', () => {
  const ctx = useServer({ client: { deadlineMs: 30_000 } });

  test('deltas are numbered 1..n and concatenate to completed.text', async () => {
    const session = await ctx.client.createSession({ setting: SETTING, player: PLAYER, seed: 7 });
    const action = 'I pry the lid off the coffin';
    // strict: false so that this test, not the client, checks the contract.
    const events = await allEvents(ctx.client.narrate({ sessionId: session.sessionId, action, scene: SCENE }, { strict: false }));
    const { started, completed, text } = checkTurnEvents(events, { decision: false });
    assert.equal(started.provider, 'offline');
    assert.ok(text.trim().length > 0, 'empty narration');
    assert.ok(FINISH_REASONS.includes(completed.finishReason), completed.finishReason);
    assert.equal(typeof completed.usage.inputTokens, 'number');
    assert.equal(typeof completed.usage.outputTokens, 'number');

    const stored = await ctx.client.getSession(session.sessionId);
    assert.equal(stored.turnCount, 1);
    assert.equal(stored.recentTurns.length, 1);
    const [turn] = stored.recentTurns;
    assert.equal(turn.turnId, started.turnId);
    assert.equal(turn.kind, 'TURN_KIND_NARRATION');
    assert.equal(turn.status, 'TURN_STATUS_COMPLETED');
    assert.equal(turn.input, action);
    assert.equal(turn.text, text);
    assert.equal(turn.provider, 'offline');
    assert.equal(turn.decision, null);
    assert.equal(turn.scene?.location, SCENE.location);
    assert.deepEqual(turn.scene?.facts, SCENE.facts);
  });

  test('collectTurn gathers a whole turn and reports each delta', async () => {
    const session = await ctx.client.createSession({ setting: SETTING, player: PLAYER });
    /** @type {[number, string][]} */
    const seen = [];
    const turn = await collectTurn(
      ctx.client.narrate({ sessionId: session.sessionId, action: 'I light a new torch' }),
      { onDelta: (text, seq) => seen.push([seq, text]) },
    );
    assert.ok(turn.turnId);
    assert.equal(turn.provider, 'offline');
    assert.equal(turn.deltaCount, seen.length);
    assert.deepEqual(seen.map(([seq]) => seq), seen.map((_, i) => i + 1));
    assert.equal(turn.text, seen.map(([, t]) => t).join(''));
    assert.equal(turn.decision, null);
  });

  test('the same seed, action and scene give the same offline narration', async () => {
    const texts = [];
    for (let i = 0; i < 2; i++) {
      const s = await ctx.client.createSession({ setting: SETTING, player: PLAYER, seed: 1234 });
      const turn = await collectTurn(ctx.client.narrate({ sessionId: s.sessionId, action: 'I listen at the door', scene: SCENE }));
      texts.push(turn.text);
    }
    assert.equal(texts[0], texts[1]);
  });

  test('GetSession returns the most recent turns, oldest first', async () => {
    const session = await ctx.client.createSession({ setting: SETTING, player: PLAYER });
    const ids = [];
    for (const action of ['I wade north', 'I search the alcove', 'I call out to Mirela']) {
      const turn = await collectTurn(ctx.client.narrate({ sessionId: session.sessionId, action, scene: SCENE }));
      ids.push(turn.turnId);
    }
    const last2 = await ctx.client.getSession(session.sessionId, 2);
    assert.equal(last2.turnCount, 3);
    assert.deepEqual(last2.recentTurns.map((t) => t.turnId), ids.slice(1));
    const all = await ctx.client.getSession(session.sessionId);
    assert.deepEqual(all.recentTurns.map((t) => t.input), ['I wade north', 'I search the alcove', 'I call out to Mirela']);
  });

  test('regenerate replaces the last turn; the replaced one stays readable, superseded', async () => {
    const { sessionId } = await ctx.client.createSession({ setting: SETTING, player: PLAYER });
    await expectNarratorError(allEvents(ctx.client.narrate({ sessionId, action: 'I roll', regenerate: true })), 'FAILED_PRECONDITION');

    const first = await collectTurn(ctx.client.narrate({ sessionId, action: 'I kick the door', scene: SCENE }));
    const again = await collectTurn(ctx.client.narrate({ sessionId, action: 'I kick the door', scene: SCENE, regenerate: true }));
    assert.notEqual(again.turnId, first.turnId);
    const options = [{ id: 'attack' }, { id: 'flee' }];
    const decided = await collectTurn(ctx.client.decide({ sessionId, question: 'What does Mirela do?', options }));
    const redecided = await collectTurn(ctx.client.decide({ sessionId, question: 'What does Mirela do?', options, regenerate: true }));
    assert.ok(redecided.decision);

    const { recentTurns } = await ctx.client.getSession(sessionId);
    const byId = new Map(recentTurns.map((t) => [t.turnId, t]));
    assert.equal(byId.get(first.turnId)?.superseded, true);
    assert.equal(byId.get(first.turnId)?.text, first.text);
    assert.equal(byId.get(again.turnId)?.superseded, false);
    assert.equal(byId.get(again.turnId)?.replacesTurnId, first.turnId);
    assert.equal(byId.get(decided.turnId)?.superseded, true);
    assert.equal(byId.get(redecided.turnId)?.replacesTurnId, decided.turnId);
    assert.equal(byId.get(redecided.turnId)?.finishReason, redecided.finishReason);
    assert.equal(byId.get(first.turnId)?.replacesTurnId, '');
  });

  test('content rating, pronouns and usage go both ways', async () => {
    const session = await ctx.client.createSession({ setting: SETTING, player: PLAYER, contentRating: 'CONTENT_RATING_EVERYONE' });
    assert.equal(session.contentRating, 'CONTENT_RATING_EVERYONE');
    const defaulted = await ctx.client.createSession({ setting: SETTING, player: PLAYER });
    assert.equal(defaulted.contentRating, 'CONTENT_RATING_TEEN'); // the server's default
    const scene = { ...SCENE, characters: [{ name: 'Mirela', description: 'a smuggler', pronouns: 'she/her' }] };
    const turn = await collectTurn(ctx.client.narrate({ sessionId: session.sessionId, action: 'I greet Mirela', scene }));
    assert.ok(turn.usage.outputTokens > 0);
    assert.equal(typeof turn.usage.estimated, 'boolean');
    assert.equal(turn.usage.cachedInputTokens, 0);
    const [stored] = (await ctx.client.getSession(session.sessionId)).recentTurns;
    assert.equal(stored.scene?.characters?.[0].pronouns, 'she/her');
    assert.deepEqual(stored.usage, turn.usage);
    assert.equal(stored.finishReason, turn.finishReason);
  });
});
