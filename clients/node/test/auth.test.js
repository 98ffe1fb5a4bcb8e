// API keys, players and tenants against a real server whose keys were made
// with the CLI (`narrator keys create`) in its data directory.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { NarratorClient, PLAYER_METADATA_KEY, collectTurn } from '../src/index.js';
import { keysCli } from '../support/narrator-server.js';
import { useServer } from '../support/use-server.js';
import { PLAYER, SETTING, allEvents, expectNarratorError } from '../support/util.js';

const OPTIONS = [{ id: 'attack' }, { id: 'flee' }];

describe('API keys', () => {
  const ctx = useServer({
    keys: [
      { name: 'studio' },
      { name: 'studio-ops', tenant: 'studio' },
      { name: 'rival' },
      { name: 'metered', playerRequestsPerMinute: 2 },
      { name: 'leaked' },
    ],
    client: (server) => ({ apiKey: server.keys.studio, deadlineMs: 30_000 }),
  });

  /**
   * A client of the test's server with its own options.
   *
   * @param {import('../src/types.js').ClientOptions} options
   * @param {(client: NarratorClient) => Promise<void>} use
   */
  async function withClient(options, use) {
    const client = new NarratorClient(ctx.server.address, { deadlineMs: 30_000, ...options });
    try {
      await use(client);
    } finally {
      client.close();
    }
  }

  test('the key goes with every call, unary and streamed', async () => {
    const session = await ctx.client.createSession({ setting: SETTING, player: PLAYER });
    const narration = await collectTurn(ctx.client.narrate({ sessionId: session.sessionId, action: 'I light a torch' }));
    assert.ok(narration.text.length > 0);
    const decision = await collectTurn(ctx.client.decide({ sessionId: session.sessionId, question: 'What now?', options: OPTIONS }));
    assert.ok(['attack', 'flee'].includes(decision.decision?.optionId ?? ''));
    assert.equal((await ctx.client.getSession(session.sessionId)).turnCount, 2);
    await ctx.client.deleteSession(session.sessionId);
  });

  test('no key, or a wrong one, is UNAUTHENTICATED on unary and streamed calls', async () => {
    const { sessionId } = await ctx.client.createSession({ setting: SETTING, player: PLAYER });
    const wrong = `${ctx.server.keys.studio.slice(0, -4)}AAAA`;
    for (const apiKey of [undefined, 'nrk_000000000000_nothing', wrong]) {
      await withClient({ apiKey }, async (client) => {
        const err = await expectNarratorError(client.createSession({ setting: SETTING, player: PLAYER }), 'UNAUTHENTICATED');
        assert.equal(err.grpcCode, grpc.status.UNAUTHENTICATED);
        await expectNarratorError(client.getSession(sessionId), 'UNAUTHENTICATED');
        await expectNarratorError(allEvents(client.narrate({ sessionId, action: 'I wait' })), 'UNAUTHENTICATED');
        await expectNarratorError(allEvents(client.watchSession(sessionId)), 'UNAUTHENTICATED');
      });
    }
    assert.equal((await ctx.client.getSession(sessionId)).turnCount, 0, 'a refused call stored a turn');
  });

  test("a session belongs to its key's tenant: another tenant gets NOT_FOUND", async () => {
    const { sessionId } = await ctx.client.createSession({ setting: SETTING, player: PLAYER });
    await collectTurn(ctx.client.narrate({ sessionId, action: 'I hide the map', turnId: 'hidden-1' }));
    await withClient({ apiKey: ctx.server.keys.rival }, async (rival) => {
      await expectNarratorError(rival.getSession(sessionId), 'NOT_FOUND');
      await expectNarratorError(allEvents(rival.narrate({ sessionId, action: 'I steal the map' })), 'NOT_FOUND');
      await expectNarratorError(allEvents(rival.narrate({ sessionId, action: 'I hide the map', turnId: 'hidden-1' })), 'NOT_FOUND');
      await expectNarratorError(allEvents(rival.watchSession(sessionId)), 'NOT_FOUND');
      await expectNarratorError(rival.deleteSession(sessionId), 'NOT_FOUND');
    });
    await withClient({ apiKey: ctx.server.keys['studio-ops'] }, async (colleague) => {
      const seen = await colleague.getSession(sessionId);
      assert.deepEqual(seen.recentTurns.map((t) => t.turnId), ['hidden-1']);
    });
  });

  test('the player goes with every call: per-player quotas come back as QuotaFailure', async () => {
    await withClient({ apiKey: ctx.server.keys.metered }, async (backend) => {
      const alice = backend.withPlayer('alice');
      assert.equal(alice.player, 'alice');
      const { sessionId } = await alice.createSession({ setting: SETTING, player: PLAYER });
      await alice.getSession(sessionId);
      const err = await expectNarratorError(allEvents(alice.narrate({ sessionId, action: 'I run' })), 'RESOURCE_EXHAUSTED');
      assert.equal(err.quotaViolations.length, 1, JSON.stringify(err.quotaViolations));
      const [violation] = err.quotaViolations;
      assert.equal(violation.limit, 'player_requests_per_minute');
      assert.equal(violation.subject, 'player:alice');
      assert.equal(violation.value, 2);
      assert.match(violation.description, /alice/);
      assert.ok(err.retryAfterMs !== null && err.retryAfterMs > 0, `retryAfterMs ${err.retryAfterMs}`);
      assert.ok(err.details.some((d) => d.typeUrl.endsWith('/google.rpc.QuotaFailure')));

      // Other players of the same key have their own budget, and so has a
      // call that names another player in its own metadata.
      const bob = backend.withPlayer('bob');
      assert.equal((await bob.getSession(sessionId)).turnCount, 0);
      const carol = new grpc.Metadata();
      carol.set(PLAYER_METADATA_KEY, 'carol');
      assert.equal((await alice.getSession(sessionId, 0, { metadata: carol })).turnCount, 0);
      await expectNarratorError(alice.getSession(sessionId), 'RESOURCE_EXHAUSTED');
      alice.close(); // a view: the channel stays open
      await bob.getSession(sessionId);
    });
  });

  test('a key revoked while the server runs is refused within its refresh period', async () => {
    await withClient({ apiKey: ctx.server.keys.leaked }, async (client) => {
      const { sessionId } = await client.createSession({ setting: SETTING, player: PLAYER });
      const out = await keysCli(ctx.server.dataDir, ['revoke', 'leaked']);
      assert.match(out, /revoked key/);
      // NARRATOR_KEY_REFRESH_S is 1 s: poll, bounded by a number of attempts.
      let code = 'OK';
      for (let attempt = 0; attempt < 100 && code === 'OK'; attempt++) {
        code = await client.getSession(sessionId).then(
          () => 'OK',
          (/** @type {any} */ err) => err.code,
        );
        if (code === 'OK') await new Promise((r) => setTimeout(r, 50));
      }
      assert.equal(code, 'UNAUTHENTICATED');
      await expectNarratorError(allEvents(client.narrate({ sessionId, action: 'I wait' })), 'UNAUTHENTICATED');
    });
  });

  test('a key or a player that cannot travel as metadata is refused when the client is made', () => {
    assert.throws(() => new NarratorClient(ctx.server.address, { apiKey: 'two words' }), TypeError);
    assert.throws(() => new NarratorClient(ctx.server.address, { apiKey: 'nrk_\n' }), TypeError);
    assert.throws(() => new NarratorClient(ctx.server.address, { player: 'Zoë' }), /printable ASCII/);
    assert.throws(() => ctx.client.withPlayer('a\nb'), /printable ASCII/);
  });
});
