// Resumable turns: a client-chosen turnId, resumed with resumeAfterSeq.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { NarratorError } from '../src/index.js';
import { useServer } from '../support/use-server.js';
import { PLAYER, SCENE, SETTING, allEvents, expectNarratorError, waitForTurn } from '../support/util.js';

const OPTIONS = [
  { id: 'attack', description: 'Mirela attacks with her hooked knife' },
  { id: 'flee', description: 'Mirela splashes away into the dark' },
];

/**
 * Reads a whole stream; the events typed loosely, for the assertions.
 *
 * @param {AsyncIterable<unknown>} stream
 * @returns {Promise<any[]>}
 */
async function all(stream) {
  return allEvents(stream);
}

/**
 * @param {any[]} events
 * @returns {any[]}
 */
function deltasOf(events) {
  return events.filter((e) => e.type === 'delta');
}

/**
 * @param {any[]} deltas
 */
function joined(deltas) {
  return deltas.map((d) => d.text).join('');
}

// The offline narrator is paced (20 ms between deltas, about a second per
// narration) so that a turn is still running when the client reconnects. The
// server keeps a turn that has a turnId alive for NARRATOR_RESUME_WINDOW_S
// (default 10 s) after its caller left. Every call below is strict (the
// client checks the resumed streams against the contract).
describe('resume', () => {
  const ctx = useServer({ paceMs: 20, client: { deadlineMs: 30_000 } });

  test('resuming a completed turn replays it from storage after resumeAfterSeq', async () => {
    const { sessionId } = await ctx.client.createSession({ setting: SETTING, player: PLAYER });
    const request = { sessionId, action: 'I pry the lid off the coffin', scene: SCENE, turnId: 'n-1' };
    const first = await all(ctx.client.narrate(request));
    assert.equal(first[0].type, 'started');
    assert.equal(first[0].turnId, 'n-1');
    assert.equal(first[0].resumed, false);
    const firstDeltas = deltasOf(first);
    assert.ok(firstDeltas.length > 3, `only ${firstDeltas.length} deltas`);
    const firstCompleted = first.at(-1);
    assert.equal(firstCompleted.type, 'completed');
    assert.deepEqual(firstCompleted.recoveries, []);

    const again = await all(ctx.client.narrate({ ...request, resumeAfterSeq: 3 }));
    assert.equal(again[0].type, 'started');
    assert.equal(again[0].resumed, true);
    assert.equal(again[0].turnId, 'n-1');
    assert.equal(again[0].provider, first[0].provider);
    assert.equal(again[0].model, first[0].model);
    const resumed = deltasOf(again);
    assert.equal(resumed[0]?.seq, 4);
    assert.deepEqual(resumed, firstDeltas.slice(3), 'the replayed deltas differ from the original ones');
    assert.deepEqual(again.at(-1), firstCompleted);

    // No second turn.
    const session = await ctx.client.getSession(sessionId);
    assert.equal(session.turnCount, 1);
    assert.equal(session.recentTurns[0].turnId, 'n-1');
  });

  test('resuming a running turn joins it: the deltas after resumeAfterSeq, then the rest live', async () => {
    const { sessionId } = await ctx.client.createSession({ setting: SETTING, player: PLAYER });
    const request = { sessionId, action: 'I wade into the dark water', scene: SCENE, turnId: 'n-live' };
    const controller = new AbortController();
    /** @type {any[]} */
    const before = [];
    await expectNarratorError(
      (async () => {
        for await (const ev of ctx.client.narrate(request, { signal: controller.signal })) {
          before.push(ev);
          if (deltasOf(before).length === 3) controller.abort(new Error('connection lost'));
        }
      })(),
      'CANCELLED',
    );
    const head = deltasOf(before);
    assert.deepEqual(head.map((d) => d.seq), [1, 2, 3]);
    assert.ok(!before.some((e) => e.type === 'completed'), 'the turn completed before the abort');

    const after = await all(ctx.client.narrate({ ...request, resumeAfterSeq: 3 }));
    assert.equal(after[0].type, 'started');
    assert.equal(after[0].resumed, true);
    assert.equal(after[0].turnId, 'n-live');
    const tail = deltasOf(after);
    assert.ok(tail.length > 0, 'no delta after the resume');
    assert.deepEqual(tail.map((d) => d.seq), tail.map((_, i) => i + 4));
    const completed = after.at(-1);
    assert.equal(completed.type, 'completed');
    assert.equal(joined(head) + joined(tail), completed.text);

    const turn = await waitForTurn(ctx.client, sessionId, 'n-live', (t) => t.status === 'TURN_STATUS_COMPLETED');
    assert.equal(turn?.status, 'TURN_STATUS_COMPLETED');
    assert.equal(turn?.text, completed.text);
    assert.equal((await ctx.client.getSession(sessionId)).turnCount, 1);
  });

  test('a turnId is scoped to its session: another session using it starts its own turn', async () => {
    const a = await ctx.client.createSession({ setting: SETTING, player: PLAYER });
    const b = await ctx.client.createSession({ setting: SETTING, player: PLAYER });
    const mine = await all(ctx.client.narrate({ sessionId: a.sessionId, action: 'I light a torch', turnId: 'taken-1' }));
    const theirs = await all(
      ctx.client.narrate({ sessionId: b.sessionId, action: 'I light a torch', turnId: 'taken-1', resumeAfterSeq: 2 }),
    );
    assert.equal(theirs[0].type, 'started');
    assert.equal(theirs[0].resumed, false);
    assert.equal(deltasOf(theirs)[0].seq, 1);
    assert.equal(theirs.at(-1).type, 'completed');
    for (const [sessionId, events] of /** @type {[string, any[]][]} */ ([[a.sessionId, mine], [b.sessionId, theirs]])) {
      const session = await ctx.client.getSession(sessionId, 5);
      assert.equal(session.turnCount, 1);
      assert.equal(session.recentTurns[0].turnId, 'taken-1');
      assert.equal(session.recentTurns[0].text, joined(deltasOf(events)));
    }
  });

  test('an invalid turnId is INVALID_ARGUMENT on turn_id', async () => {
    const { sessionId } = await ctx.client.createSession({ setting: SETTING, player: PLAYER });
    const err = await expectNarratorError(
      allEvents(ctx.client.narrate({ sessionId, action: 'I wait', turnId: 'not a valid id!' })),
      'INVALID_ARGUMENT',
    );
    assert.ok(err.fieldViolations.some((f) => f.field === 'turn_id'), JSON.stringify(err.fieldViolations));
  });

  test('resuming a completed decision replays the rationale after resumeAfterSeq and the same decision', async () => {
    const { sessionId } = await ctx.client.createSession({ setting: SETTING, player: PLAYER });
    const request = { sessionId, question: 'What does Mirela do?', options: OPTIONS, scene: SCENE, turnId: 'd-1' };
    const first = await all(ctx.client.decide(request));
    assert.equal(first[0].resumed, false);
    const firstDeltas = deltasOf(first);
    assert.ok(firstDeltas.length > 2, `only ${firstDeltas.length} deltas`);

    const again = await all(ctx.client.decide({ ...request, resumeAfterSeq: 2 }));
    assert.equal(again[0].resumed, true);
    assert.equal(again[0].turnId, 'd-1');
    assert.deepEqual(deltasOf(again), firstDeltas.slice(2));
    assert.deepEqual(again.find((e) => e.type === 'decision'), first.find((e) => e.type === 'decision'));
    assert.deepEqual(again.at(-1), first.at(-1));
    assert.equal((await ctx.client.getSession(sessionId)).turnCount, 1);
  });

  // A call that starts a new turn (a turnId the server does not know) ignores
  // resumeAfterSeq: resumed is false and seq starts at 1.
  test('a new turn sends every delta whatever resumeAfterSeq says', async () => {
    const { sessionId } = await ctx.client.createSession({ setting: SETTING, player: PLAYER });
    const events = await all(ctx.client.narrate({ sessionId, action: 'I listen', turnId: 'n-unknown', resumeAfterSeq: 3 }, { strict: false }));
    assert.equal(events[0].resumed, false);
    assert.equal(deltasOf(events)[0]?.seq, 1);
    assert.equal(joined(deltasOf(events)), events.at(-1).text);
  });

  // A turnId names one kind of turn: the other method gets INVALID_ARGUMENT.
  test('resuming a turn with the other method fails cleanly', async () => {
    const { sessionId } = await ctx.client.createSession({ setting: SETTING, player: PLAYER });
    await allEvents(ctx.client.narrate({ sessionId, action: 'I listen', turnId: 'kind-n' }));
    await allEvents(ctx.client.decide({ sessionId, question: 'What now?', options: OPTIONS, turnId: 'kind-d' }));
    for (const call of [
      () => ctx.client.decide({ sessionId, question: 'What now?', options: OPTIONS, turnId: 'kind-n' }),
      () => ctx.client.narrate({ sessionId, action: 'I listen', turnId: 'kind-d' }),
    ]) {
      await assert.rejects(allEvents(call()), (err) => err instanceof NarratorError && err.code === 'INVALID_ARGUMENT');
    }
  });
});

// With NARRATOR_RESUME_WINDOW_S=0 an abandoned turn is cancelled at once, so
// resuming it replays what it said and ends with ABORTED.
describe('resume a cancelled turn', () => {
  const ctx = useServer({ paceMs: 20, env: { NARRATOR_RESUME_WINDOW_S: '0' }, client: { deadlineMs: 30_000 } });

  test('replays the stored deltas after resumeAfterSeq, then ABORTED', async () => {
    const { sessionId } = await ctx.client.createSession({ setting: SETTING, player: PLAYER });
    const request = { sessionId, action: 'I climb onto the altar', scene: SCENE, turnId: 'n-cancelled' };
    /** @type {any[]} */
    const head = [];
    for await (const ev of ctx.client.narrate(request)) {
      if (ev.type === 'delta') head.push(ev);
      if (head.length === 3) break;
    }
    const turn = await waitForTurn(ctx.client, sessionId, 'n-cancelled');
    assert.equal(turn?.status, 'TURN_STATUS_CANCELLED');
    assert.ok(turn.text.startsWith(joined(head)), `stored text ${JSON.stringify(turn.text)}`);

    /** @type {any[]} */
    const replayed = [];
    await expectNarratorError(
      (async () => {
        for await (const ev of ctx.client.narrate({ ...request, resumeAfterSeq: 1 })) replayed.push(ev);
      })(),
      'ABORTED',
    );
    assert.equal(replayed[0].type, 'started');
    assert.equal(replayed[0].resumed, true);
    const tail = deltasOf(replayed);
    assert.deepEqual(tail.map((d) => d.seq), tail.map((_, i) => i + 2));
    assert.equal(joined(head.slice(0, 1)) + joined(tail), turn.text);
    assert.ok(!replayed.some((e) => e.type === 'completed'));
  });
});
