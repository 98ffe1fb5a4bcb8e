import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { NarratorClient } from '../src/index.js';
import { useServer } from '../support/use-server.js';
import { PLAYER, SETTING, allEvents, expectNarratorError } from '../support/util.js';

describe('errors', () => {
  const ctx = useServer({ client: { deadlineMs: 30_000 } });
  /** @type {string} */
  let sessionId;

  before(async () => {
    sessionId = (await ctx.client.createSession({ setting: SETTING, player: PLAYER })).sessionId;
  });

  test('an empty action is INVALID_ARGUMENT with a field violation on "action"', async () => {
    const err = await expectNarratorError(allEvents(ctx.client.narrate({ sessionId, action: '' })), 'INVALID_ARGUMENT');
    assert.equal(err.grpcCode, 3);
    assert.ok(err.message, 'no message');
    const v = err.fieldViolations.find((f) => f.field === 'action');
    assert.ok(v, `no violation on "action": ${JSON.stringify(err.fieldViolations)}`);
    assert.ok(v.description, 'empty description');
    assert.equal(err.retryAfterMs, null);
    assert.ok(err.details.some((d) => d.typeUrl.endsWith('/google.rpc.BadRequest')));
  });

  test('an action over 4000 characters is INVALID_ARGUMENT on "action"', async () => {
    const err = await expectNarratorError(
      allEvents(ctx.client.narrate({ sessionId, action: 'x'.repeat(4001) })),
      'INVALID_ARGUMENT',
    );
    assert.ok(err.fieldViolations.some((f) => f.field === 'action'), JSON.stringify(err.fieldViolations));
  });

  test('an invalid request stores no turn', async () => {
    const s = await ctx.client.getSession(sessionId);
    assert.equal(s.turnCount, 0);
  });

  test('narrate on an unknown session is NOT_FOUND', async () => {
    const err = await expectNarratorError(
      allEvents(ctx.client.narrate({ sessionId: 'no-such-session', action: 'I look around' })),
      'NOT_FOUND',
    );
    assert.equal(err.grpcCode, 5);
    assert.deepEqual(err.fieldViolations, []);
  });

  test('an unreachable server is UNAVAILABLE', async () => {
    // A port that was free a moment ago: nothing listens there.
    const port = await new Promise((resolve) => {
      const srv = net.createServer().listen(0, '127.0.0.1', () => {
        const p = /** @type {net.AddressInfo} */ (srv.address()).port;
        srv.close(() => resolve(p));
      });
    });
    const dead = new NarratorClient(`127.0.0.1:${port}`, { deadlineMs: 10_000 });
    try {
      await expectNarratorError(dead.getSession('x'), 'UNAVAILABLE');
      await expectNarratorError(allEvents(dead.narrate({ sessionId: 'x', action: 'hello' })), 'UNAVAILABLE');
    } finally {
      dead.close();
    }
  });
});
