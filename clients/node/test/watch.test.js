// WatchSession against a real server: every turn of a session, as it happens.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { NarratorClient } from '../src/index.js';
import { useServer } from '../support/use-server.js';
import { PLAYER, SCENE, SETTING, allEvents as typedEvents, expectNarratorError } from '../support/util.js';

/**
 * A whole stream, its events typed loosely for the assertions.
 *
 * @param {AsyncIterable<unknown>} stream
 * @returns {Promise<any[]>}
 */
const allEvents = (stream) => typedEvents(stream);

const OPTIONS = [
  { id: 'attack', description: 'Mirela attacks with her hooked knife' },
  { id: 'flee', description: 'Mirela splashes away into the dark' },
];

/**
 * Reads a watch in the background, keeping every event, until it ends.
 */
class Watcher {
  /**
   * @param {AsyncGenerator<any, void, undefined>} events
   */
  constructor(events) {
    this.events = events;
    /** @type {any[]} */
    this.seen = [];
    /** @type {(() => void)[]} */
    this.waiting = [];
    /** @type {Promise<unknown>} the end of the watch: undefined, or the error it threw */
    this.done = (async () => {
      try {
        for await (const ev of events) {
          this.seen.push(ev);
          this.wake();
        }
        return undefined;
      } catch (err) {
        return err;
      } finally {
        this.ended = true;
        this.wake();
      }
    })();
    this.ended = false;
  }

  /** @private */
  wake() {
    for (const resolve of this.waiting.splice(0)) resolve();
  }

  /**
   * Waits until `done(events)` holds; fails if the watch ends first.
   *
   * @param {(events: any[]) => boolean} done
   */
  async until(done) {
    while (!done(this.seen)) {
      if (this.ended) assert.fail(`the watch ended early: ${await this.done}`);
      await new Promise((resolve) => this.waiting.push(() => resolve(undefined)));
    }
  }

  /** @param {string} turnId */
  turn(turnId) {
    return this.seen.filter((e) => e.turnId === turnId);
  }

  /** @param {string} turnId */
  finished(turnId) {
    return (/** @type {any[]} */ events) => events.some((e) => e.turnId === turnId && (e.type === 'completed' || e.type === 'ended'));
  }
}

/**
 * Strips the watch fields (turnId, kind, input) off a started event so it
 * compares with the caller's own.
 *
 * @param {any[]} events
 */
function asCallerSees(events) {
  return events.map(({ kind, input, ...ev }) => (ev.type === 'started' ? ev : (({ turnId, ...rest }) => rest)(ev)));
}

// Paced (20 ms a delta) so that a turn is still running when the watch starts.
describe('watchSession', () => {
  const ctx = useServer({ paceMs: 20, client: { deadlineMs: 30_000 } });

  test('a watcher sees each turn as it is played, from its start, until the session is deleted', async () => {
    const { sessionId } = await ctx.client.createSession({ setting: SETTING, player: PLAYER });

    // 1. A narration already running when the watch starts: the watcher gets
    //    it from its first event.
    const action = 'I wade into the dark water';
    const narration = ctx.client.narrate({ sessionId, action, scene: SCENE, turnId: 'w-1' });
    /** @type {any[]} */
    const told = [];
    for await (const ev of narration) {
      told.push(ev);
      if (ev.type === 'delta') break; // leaves the turn running: it has a turnId
    }
    const watcher = new Watcher(ctx.client.watchSession(sessionId));
    const rest = await allEvents(ctx.client.narrate({ sessionId, action, scene: SCENE, turnId: 'w-1', resumeAfterSeq: 1 }));
    await watcher.until(watcher.finished('w-1'));
    const watched = watcher.turn('w-1');
    assert.equal(watched[0].type, 'started');
    assert.equal(watched[0].kind, 'TURN_KIND_NARRATION');
    assert.equal(watched[0].input, action);
    assert.equal(watched[0].provider, 'offline');
    const deltas = watched.filter((e) => e.type === 'delta');
    assert.deepEqual(deltas.map((d) => d.seq), deltas.map((_, i) => i + 1));
    const completed = watched.at(-1);
    assert.equal(completed.type, 'completed');
    assert.equal(completed.text, deltas.map((d) => d.text).join(''));
    assert.deepEqual(completed, { ...rest.at(-1), turnId: 'w-1', kind: 'TURN_KIND_NARRATION' });
    assert.ok(watched.every((e) => e.kind === 'TURN_KIND_NARRATION'));

    // 2. A decision played while the watch runs: the same events as its caller's.
    const question = 'What does Mirela do?';
    const decided = await allEvents(ctx.client.decide({ sessionId, question, options: OPTIONS, scene: SCENE }));
    const decisionTurn = decided[0].turnId;
    await watcher.until(watcher.finished(decisionTurn));
    const watchedDecision = watcher.turn(decisionTurn);
    assert.equal(watchedDecision[0].input, question);
    assert.ok(watchedDecision.every((e) => e.kind === 'TURN_KIND_DECISION'));
    assert.deepEqual(asCallerSees(watchedDecision), decided);

    // 3. Deleting the session ends the watch normally.
    await ctx.client.deleteSession(sessionId);
    assert.equal(await watcher.done, undefined);
    assert.deepEqual([...new Set(watcher.seen.map((e) => e.turnId))], ['w-1', decisionTurn]);
    assert.ok(told.length >= 2);
  });

  test('a turn that stops without completing is watched to its end', async () => {
    const { sessionId } = await ctx.client.createSession({ setting: SETTING, player: PLAYER });
    const watcher = new Watcher(ctx.client.watchSession(sessionId));
    // A first turn proves the watch is in place before the one that stops.
    const first = await allEvents(ctx.client.narrate({ sessionId, action: 'I listen', scene: SCENE }));
    await watcher.until(watcher.finished(first[0].turnId));

    /** @type {string | undefined} */
    let turnId;
    for await (const ev of ctx.client.narrate({ sessionId, action: 'I climb onto the altar', scene: SCENE })) {
      if (ev.type === 'started') turnId = ev.turnId;
      if (ev.type === 'delta') break; // no turnId: leaving cancels the turn at once
    }
    assert.ok(turnId);
    await watcher.until(watcher.finished(turnId));
    const watched = watcher.turn(turnId);
    assert.equal(watched[0].type, 'started');
    const ended = watched.at(-1);
    assert.equal(ended.type, 'ended');
    assert.equal(ended.status, 'TURN_STATUS_CANCELLED');
    assert.equal(typeof ended.reason, 'string');
    assert.ok(!watched.some((e) => e.type === 'completed'));

    await ctx.client.deleteSession(sessionId);
    assert.equal(await watcher.done, undefined);
  });

  test('an unknown session is NOT_FOUND; an abort stops the watch with CANCELLED', async () => {
    await expectNarratorError(allEvents(ctx.client.watchSession('no-such-session')), 'NOT_FOUND');
    const { sessionId } = await ctx.client.createSession({ setting: SETTING, player: PLAYER });
    const controller = new AbortController();
    const watcher = new Watcher(ctx.client.watchSession(sessionId, { signal: controller.signal }));
    const turn = await allEvents(ctx.client.narrate({ sessionId, action: 'I wait', scene: SCENE }));
    await watcher.until(watcher.finished(turn[0].turnId));
    controller.abort();
    const err = /** @type {any} */ (await watcher.done);
    assert.equal(err?.code, 'CANCELLED');
  });

  test('the client default deadline does not end a watch; its own deadlineMs does', async () => {
    const { sessionId } = await ctx.client.createSession({ setting: SETTING, player: PLAYER });
    const hasty = new NarratorClient(ctx.server.address, { deadlineMs: 300 });
    try {
      const began = Date.now();
      const watcher = new Watcher(hasty.watchSession(sessionId));
      const turn = await allEvents(ctx.client.narrate({ sessionId, action: 'I wait for the tide', scene: SCENE }));
      await watcher.until(watcher.finished(turn[0].turnId));
      assert.ok(Date.now() - began > 300, 'the paced turn was shorter than the default deadline');
      await ctx.client.deleteSession(sessionId);
      assert.equal(await watcher.done, undefined);
      const other = await ctx.client.createSession({ setting: SETTING, player: PLAYER });
      await expectNarratorError(allEvents(hasty.watchSession(other.sessionId, { deadlineMs: 100 })), 'DEADLINE_EXCEEDED');
    } finally {
      hasty.close();
    }
  });
});
