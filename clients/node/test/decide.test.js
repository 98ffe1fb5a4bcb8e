import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { collectTurn } from '../src/index.js';
import { useServer } from '../support/use-server.js';
import { schemaErrors } from '../support/json-schema.js';
import { PLAYER, SCENE, SETTING, allEvents, checkTurnEvents, expectNarratorError } from '../support/util.js';

const ATTACK_SCHEMA = {
  type: 'object',
  properties: {
    target: { type: 'string', enum: ['Aldric', 'Mirela'] },
    force: { type: 'integer', minimum: 1, maximum: 3 },
  },
  required: ['target', 'force'],
  additionalProperties: false,
};

const OPTIONS = [
  { id: 'attack', description: 'the goblin chief attacks someone with its spear', argumentsSchema: ATTACK_SCHEMA },
  { id: 'parley', description: 'the goblin chief lowers its spear and demands a toll' },
  { id: 'flee', description: 'the goblin chief splashes away into the dark' },
];

const SOURCES = ['DECISION_SOURCE_MODEL', 'DECISION_SOURCE_REPAIRED', 'DECISION_SOURCE_FALLBACK'];

/**
 * @param {any} decision
 * @param {{id: string, argumentsSchema?: any}[]} options
 */
function checkDecision(decision, options) {
  const option = options.find((o) => o.id === decision.optionId);
  assert.ok(option, `decision "${decision.optionId}" is not one of ${options.map((o) => o.id)}`);
  assert.ok(SOURCES.includes(decision.source), `source ${decision.source}`);
  assert.deepEqual(decision.arguments, JSON.parse(decision.argumentsJson));
  if (option.argumentsSchema) {
    assert.deepEqual(schemaErrors(option.argumentsSchema, decision.arguments), [], decision.argumentsJson);
  } else {
    assert.deepEqual(decision.arguments, {});
  }
}

describe('decide', () => {
  const ctx = useServer({ client: { deadlineMs: 30_000 } });

  test('the decision is one of the options and its arguments match the schema', async () => {
    const session = await ctx.client.createSession({ setting: SETTING, player: PLAYER, seed: 3 });
    const question = 'What does the goblin chief do?';
    const events = await allEvents(
      ctx.client.decide({ sessionId: session.sessionId, question, options: OPTIONS, scene: SCENE }, { strict: false }),
    );
    const { started, decision, text } = checkTurnEvents(events, { decision: true });
    checkDecision(decision, OPTIONS);
    assert.ok(text.trim().length > 0, 'empty rationale');

    const stored = await ctx.client.getSession(session.sessionId);
    const turn = stored.recentTurns.at(-1);
    assert.equal(turn?.turnId, started.turnId);
    assert.equal(turn?.kind, 'TURN_KIND_DECISION');
    assert.equal(turn?.status, 'TURN_STATUS_COMPLETED');
    assert.equal(turn?.input, question);
    assert.equal(turn?.text, text);
    assert.equal(turn?.decision?.optionId, decision.optionId);
    assert.deepEqual(turn?.decision?.arguments, decision.arguments);
  });

  test('decisions over several seeds always respect the options and schemas', async () => {
    for (let seed = 1; seed <= 8; seed++) {
      const session = await ctx.client.createSession({ setting: SETTING, player: PLAYER, seed });
      const turn = await collectTurn(
        ctx.client.decide({ sessionId: session.sessionId, question: 'What does the goblin chief do?', options: OPTIONS, scene: SCENE }),
      );
      assert.ok(turn.decision, 'no decision');
      checkDecision(turn.decision, OPTIONS);
    }
  });

  test('a single option with a schema gets schema-valid arguments', async () => {
    const session = await ctx.client.createSession({ setting: SETTING, player: PLAYER });
    const only = [OPTIONS[0]];
    const events = await allEvents(
      ctx.client.decide({ sessionId: session.sessionId, question: 'Whom does the chief strike?', options: only, scene: SCENE }, { strict: false }),
    );
    const { decision } = checkTurnEvents(events, { decision: true });
    assert.equal(decision.optionId, 'attack');
    checkDecision(decision, only);
    assert.ok(['Aldric', 'Mirela'].includes(decision.arguments.target));
  });

  test('the schema may be given as JSON text', async () => {
    const session = await ctx.client.createSession({ setting: SETTING, player: PLAYER });
    const only = [{ id: 'give', description: 'Mirela gives the player coins', argumentsSchema: JSON.stringify({ type: 'object', properties: { coins: { type: 'integer', minimum: 1, maximum: 10 } }, required: ['coins'] }) }];
    const turn = await collectTurn(ctx.client.decide({ sessionId: session.sessionId, question: 'How many coins?', options: only }));
    assert.equal(turn.decision?.optionId, 'give');
    assert.deepEqual(schemaErrors(JSON.parse(only[0].argumentsSchema), turn.decision?.arguments), []);
  });

  test('invalid decide requests are INVALID_ARGUMENT with field violations', async () => {
    const session = await ctx.client.createSession({ setting: SETTING, player: PLAYER });
    const noOptions = await expectNarratorError(
      allEvents(ctx.client.decide({ sessionId: session.sessionId, question: 'What now?', options: [] })),
      'INVALID_ARGUMENT',
    );
    assert.ok(noOptions.fieldViolations.some((v) => v.field.includes('options')), JSON.stringify(noOptions.fieldViolations));

    const badDefault = await expectNarratorError(
      allEvents(ctx.client.decide({ sessionId: session.sessionId, question: 'What now?', options: OPTIONS, defaultOptionId: 'dance' })),
      'INVALID_ARGUMENT',
    );
    assert.ok(badDefault.fieldViolations.some((v) => v.field.includes('default_option_id')), JSON.stringify(badDefault.fieldViolations));

    const noQuestion = await expectNarratorError(
      allEvents(ctx.client.decide({ sessionId: session.sessionId, question: '', options: OPTIONS })),
      'INVALID_ARGUMENT',
    );
    assert.ok(noQuestion.fieldViolations.some((v) => v.field === 'question'), JSON.stringify(noQuestion.fieldViolations));
  });

  test('decide on an unknown session is NOT_FOUND', async () => {
    await expectNarratorError(allEvents(ctx.client.decide({ sessionId: 'no-such-session', question: 'What now?', options: OPTIONS })), 'NOT_FOUND');
  });
});
