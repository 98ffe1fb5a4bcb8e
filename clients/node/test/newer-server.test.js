// A server of a newer contract (support/newer-server.js): events, statuses
// and reasons this client does not know are skipped or passed through, never
// thrown, and the fields this client knows are all mapped.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { NarratorClient, collectTurn } from '../src/index.js';
import { NEWER, startNewerServer } from '../support/newer-server.js';
import { allEvents } from '../support/util.js';

const USAGE = { inputTokens: 120, outputTokens: 7, estimated: true, cachedInputTokens: 96 };
const RECOVERIES = [
  { provider: 'backup', model: 'm2', afterSeq: 1, reason: 'RECOVERY_REASON_STALLED' },
  { provider: 'offline', model: 'offline', afterSeq: 2, reason: NEWER.recoveryReason },
];

/**
 * A turn as a newer server streams it: hints before, between and after the
 * known events.
 *
 * @param {string} turnId
 * @param {boolean} decision
 */
function turnMessages(turnId, decision) {
  return [
    { hint: { text: 'the DM is thinking' } },
    { started: { turnId, provider: 'openai', model: 'gpt-x', resumed: false } },
    { delta: { seq: 1, text: 'The door ' } },
    { hint: { text: 'door' } },
    { delta: { seq: 2, text: 'creaks' } },
    { delta: { seq: 3, text: ' open.' } },
    ...(decision ? [{ decision: { optionId: 'flee', argumentsJson: '{"far": true}', source: 'DECISION_SOURCE_REPAIRED' } }] : []),
    { hint: { text: 'almost done' } },
    { completed: { finishReason: 'FINISH_REASON_STOP', usage: USAGE, text: 'The door creaks open.', recoveries: RECOVERIES } },
    { hint: { text: 'after the end' } },
  ];
}

/**
 * @param {any} call a grpc-js server stream
 * @param {object[]} messages
 */
function send(call, messages) {
  for (const m of messages) call.write(m);
  call.end();
}

describe('a server of a newer contract', () => {
  /** @type {import('../support/newer-server.js').NewerServer} */
  let server;
  /** @type {NarratorClient} */
  let client;

  before(async () => {
    server = await startNewerServer({
      narrate: (/** @type {any} */ call) => send(call, turnMessages(call.request.turnId || 't-n', false)),
      decide: (/** @type {any} */ call) => send(call, turnMessages('t-d', true)),
      watchSession: (/** @type {any} */ call) => {
        const tag = (/** @type {string} */ turnId, /** @type {string} */ kind) => (/** @type {any} */ m) => ({ turnId, kind, ...m });
        send(call, [
          ...turnMessages('t-1', false).map(tag('t-1', 'TURN_KIND_NARRATION')).map((m) => (m.started ? { ...m, input: 'I push' } : m)),
          tag('t-2', 'TURN_KIND_NARRATION')({ ended: { status: NEWER.turnStatus, reason: 'archived' } }),
          tag('t-3', 'TURN_KIND_DECISION')({ hint: { text: 'only a hint' } }),
        ]);
      },
      getSession: (/** @type {any} */ call, /** @type {Function} */ callback) => {
        callback(null, {
          session: {
            sessionId: call.request.sessionId,
            setting: { world: 'w' },
            player: { name: 'p' },
            turnCount: 2,
            contentRating: 'CONTENT_RATING_MATURE',
            recentTurns: [
              { turnId: 'old', kind: 'TURN_KIND_NARRATION', status: NEWER.turnStatus, superseded: true, usage: USAGE },
              {
                turnId: 'new',
                kind: 'TURN_KIND_NARRATION',
                status: 'TURN_STATUS_COMPLETED',
                replacesTurnId: 'old',
                finishReason: 'FINISH_REASON_LENGTH',
                recoveries: RECOVERIES,
                scene: { characters: [{ name: 'Mirela', pronouns: 'she/her' }] },
              },
            ],
          },
        });
      },
    });
    client = new NarratorClient(server.address, { deadlineMs: 10_000 });
  });

  after(async () => {
    client?.close();
    await server?.stop();
  });

  const expectedRecoveries = [RECOVERIES[0], { ...RECOVERIES[1], reason: NEWER.recoveryReason }];

  test('narrate skips the unknown events and the strict check passes', async () => {
    const events = await allEvents(client.narrate({ sessionId: 's', action: 'I push the door', turnId: 'n-1' }));
    assert.deepEqual(events.map((e) => e.type), ['started', 'delta', 'delta', 'delta', 'completed']);
    const completed = /** @type {any} */ (events.at(-1));
    assert.equal(completed.text, 'The door creaks open.');
    assert.deepEqual(completed.usage, USAGE);
    assert.deepEqual(completed.recoveries, expectedRecoveries);
  });

  test('decide skips them too, and collectTurn gathers the known ones', async () => {
    const turn = await collectTurn(client.decide({ sessionId: 's', question: 'Which way?', options: [{ id: 'stay' }, { id: 'flee' }] }));
    assert.equal(turn.turnId, 't-d');
    assert.equal(turn.deltaCount, 3);
    assert.deepEqual(turn.decision, { optionId: 'flee', arguments: { far: true }, argumentsJson: '{"far": true}', source: 'DECISION_SOURCE_REPAIRED' });
    assert.deepEqual(turn.usage, USAGE);
  });

  test('watchSession skips them, and an unknown status in ended comes as its number', async () => {
    const events = await allEvents(client.watchSession('s'));
    assert.deepEqual(events.map((e) => `${e.turnId}:${e.type}`), [
      't-1:started', 't-1:delta', 't-1:delta', 't-1:delta', 't-1:completed', 't-2:ended',
    ]);
    assert.equal(/** @type {any} */ (events[0]).input, 'I push');
    assert.deepEqual(events.at(-1), { type: 'ended', turnId: 't-2', kind: 'TURN_KIND_NARRATION', status: NEWER.turnStatus, reason: 'archived' });
  });

  test('stored turns map every field, unknown enum values as numbers', async () => {
    const session = await client.getSession('s');
    assert.equal(session.contentRating, 'CONTENT_RATING_MATURE');
    const [old, fresh] = session.recentTurns;
    assert.equal(old.status, NEWER.turnStatus);
    assert.equal(old.superseded, true);
    assert.deepEqual(old.usage, USAGE);
    assert.equal(fresh.replacesTurnId, 'old');
    assert.equal(fresh.superseded, false);
    assert.equal(fresh.finishReason, 'FINISH_REASON_LENGTH');
    assert.deepEqual(fresh.recoveries, expectedRecoveries);
    assert.equal(fresh.scene?.characters?.[0].pronouns, 'she/her');
  });
});
