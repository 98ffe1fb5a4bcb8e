import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { useServer } from '../support/use-server.js';
import { PLAYER, SCENE, SETTING, allEvents, expectNarratorError, waitForTurn } from '../support/util.js';

// The offline narrator is paced (20 ms between deltas) so that a turn is
// still streaming when the client cancels it.
describe('cancel', () => {
  const ctx = useServer({ paceMs: 20 });

  test('aborting after the first delta cancels the call and the turn is stored as cancelled', async () => {
    const { sessionId } = await ctx.client.createSession({ setting: SETTING, player: PLAYER });
    const controller = new AbortController();
    /** @type {any[]} */
    const events = [];
    const err = await expectNarratorError(
      (async () => {
        for await (const ev of ctx.client.narrate({ sessionId, action: 'I wade into the dark water', scene: SCENE }, { signal: controller.signal })) {
          events.push(ev);
          if (ev.type === 'delta') controller.abort();
        }
      })(),
      'CANCELLED',
    );
    assert.equal(err.grpcCode, 1);
    assert.equal(events[0].type, 'started');
    assert.ok(events.some((e) => e.type === 'delta'));
    assert.ok(!events.some((e) => e.type === 'completed'), 'the turn completed before the cancel');

    const turnId = events[0].turnId;
    const turn = await waitForTurn(ctx.client, sessionId, turnId);
    assert.ok(turn, `turn ${turnId} not in GetSession`);
    assert.equal(turn.status, 'TURN_STATUS_CANCELLED');
    assert.equal(turn.kind, 'TURN_KIND_NARRATION');
    const received = events.filter((e) => e.type === 'delta').map((e) => e.text).join('');
    assert.ok(turn.text.startsWith(received), `stored text ${JSON.stringify(turn.text)} does not start with ${JSON.stringify(received)}`);
    const session = await ctx.client.getSession(sessionId);
    assert.equal(session.turnCount, 1);
  });

  test('breaking out of the for-await loop cancels the call', async () => {
    const { sessionId } = await ctx.client.createSession({ setting: SETTING, player: PLAYER });
    /** @type {string | undefined} */
    let turnId;
    let deltas = 0;
    for await (const ev of ctx.client.narrate({ sessionId, action: 'I climb onto the altar', scene: SCENE })) {
      if (ev.type === 'started') turnId = ev.turnId;
      if (ev.type === 'completed') assert.fail('the turn completed before the break');
      if (ev.type === 'delta' && ++deltas === 2) break;
    }
    assert.ok(turnId);
    const turn = await waitForTurn(ctx.client, sessionId, turnId);
    assert.equal(turn?.status, 'TURN_STATUS_CANCELLED');
  });

  test('cancelling a decide stores a cancelled decision turn without a decision', async () => {
    const { sessionId } = await ctx.client.createSession({ setting: SETTING, player: PLAYER });
    const controller = new AbortController();
    /** @type {string | undefined} */
    let turnId;
    await expectNarratorError(
      (async () => {
        const options = [{ id: 'attack' }, { id: 'flee' }];
        for await (const ev of ctx.client.decide({ sessionId, question: 'What does Mirela do?', options }, { signal: controller.signal })) {
          if (ev.type === 'started') turnId = ev.turnId;
          if (ev.type === 'delta') controller.abort(new Error('player skipped'));
        }
      })(),
      'CANCELLED',
    );
    assert.ok(turnId);
    const turn = await waitForTurn(ctx.client, sessionId, turnId);
    assert.equal(turn?.status, 'TURN_STATUS_CANCELLED');
    assert.equal(turn?.kind, 'TURN_KIND_DECISION');
    assert.equal(turn?.decision, null);
  });

  test('an already aborted signal fails at once with CANCELLED', async () => {
    const { sessionId } = await ctx.client.createSession({ setting: SETTING, player: PLAYER });
    const controller = new AbortController();
    controller.abort();
    await expectNarratorError(allEvents(ctx.client.narrate({ sessionId, action: 'I wait' }, { signal: controller.signal })), 'CANCELLED');
    await expectNarratorError(ctx.client.getSession(sessionId, 0, { signal: controller.signal }), 'CANCELLED');
    assert.equal((await ctx.client.getSession(sessionId)).turnCount, 0);
  });

  test('a deadline that passes before the turn ends is DEADLINE_EXCEEDED', async () => {
    const { sessionId } = await ctx.client.createSession({ setting: SETTING, player: PLAYER });
    await expectNarratorError(
      allEvents(ctx.client.narrate({ sessionId, action: 'I wait for the tide', scene: SCENE }, { deadlineMs: 1 })),
      'DEADLINE_EXCEEDED',
    );
  });
});
