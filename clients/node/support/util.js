// Test support: small helpers shared by the test files.
import assert from 'node:assert/strict';
import { NarratorError } from '../src/index.js';

/**
 * Reads a whole narrate()/decide() stream into an array of events.
 *
 * @template T
 * @param {AsyncIterable<T>} events
 * @returns {Promise<T[]>}
 */
export async function allEvents(events) {
  const out = [];
  for await (const ev of events) out.push(ev);
  return out;
}

/**
 * Checks the streamed-turn contract on a list of events: started first, then
 * deltas numbered 1..n, then (decide) one decision, then one completed whose
 * text is the concatenated deltas. Returns the pieces.
 *
 * @param {any[]} events
 * @param {{decision: boolean}} expect
 */
export function checkTurnEvents(events, expect) {
  assert.ok(events.length >= 2, `too few events: ${JSON.stringify(events)}`);
  const [started, ...rest] = events;
  assert.equal(started.type, 'started');
  assert.ok(started.turnId, 'started.turnId is empty');
  assert.ok(started.provider, 'started.provider is empty');
  const completed = rest.pop();
  assert.equal(completed.type, 'completed', 'the last event is not completed');
  /** @type {any} */
  let decision = null;
  if (expect.decision) {
    decision = rest.pop();
    assert.equal(decision?.type, 'decision', 'the event before completed is not the decision');
  }
  const deltas = rest;
  assert.ok(deltas.length > 0, 'no delta');
  deltas.forEach((d, i) => {
    assert.equal(d.type, 'delta', `event ${i + 1} is ${d.type}, expected delta`);
    assert.equal(d.seq, i + 1, `delta ${i} has seq ${d.seq}`);
  });
  const text = deltas.map((d) => d.text).join('');
  assert.equal(completed.text, text, 'completed.text is not the concatenated deltas');
  return { started, deltas, decision, completed, text };
}

/**
 * Asserts that a promise rejects with a NarratorError of the given code.
 *
 * @param {Promise<unknown>} promise
 * @param {string} code e.g. "NOT_FOUND"
 * @returns {Promise<NarratorError>}
 */
export async function expectNarratorError(promise, code) {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof NarratorError, `expected a NarratorError, got ${err}`);
    assert.equal(err.code, code, `expected ${code}, got ${err.code}: ${err.message}`);
    return err;
  }
  assert.fail(`expected ${code}, but the call succeeded`);
}

/**
 * Polls GetSession until the turn has a final status (the server stores a
 * cancelled turn when it notices the cancellation, which may be a moment
 * after the client gave up). Bounded by a number of attempts.
 *
 * @param {import('../src/index.js').NarratorClient} client
 * @param {string} sessionId
 * @param {string} turnId
 * @param {(turn: any) => boolean} [done]
 */
export async function waitForTurn(client, sessionId, turnId, done = (t) => t.status === 'TURN_STATUS_CANCELLED') {
  /** @type {any} */
  let turn;
  for (let attempt = 0; attempt < 200; attempt++) {
    const session = await client.getSession(sessionId, 100);
    turn = session.recentTurns.find((t) => t.turnId === turnId);
    if (turn && done(turn)) return turn;
    await new Promise((r) => setTimeout(r, 50));
  }
  return turn;
}

export const SETTING = { world: 'a drowned city ruled by smugglers', tone: 'grim' };
export const PLAYER = { name: 'Aldric', description: 'a disgraced knight with a cursed blade' };
export const SCENE = {
  location: 'the flooded crypt',
  characters: [{ name: 'Mirela the smuggler', description: 'a wiry woman with a hooked knife', disposition: 'wary' }],
  facts: ['the water is knee-deep', 'the torch is almost out'],
  attributes: { time: 'midnight' },
};
