import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from '../support/cli.js';
import { useServer } from '../support/use-server.js';

describe('example CLI', () => {
  const ctx = useServer({ client: false, keys: [{ name: 'studio' }] });

  test('runs a turn and a decision, watched, against the server with its key and exits 0', async () => {
    const { code, stdout, stderr } = await runCli([ctx.server.address], { NARRATOR_API_KEY: ctx.server.keys.studio });
    assert.equal(code, 0, `exit ${code}\nstdout:\n${stdout}\nstderr:\n${stderr}`);
    assert.match(stdout, /decision: (attack|parley|flee) /);
    assert.match(stdout, /the spectator saw [12] turn\(s\) end: /);
    assert.match(stdout, /\nok\n?$/);
  });

  test('takes the address from NARRATOR_ADDRESS', async () => {
    const env = { NARRATOR_ADDRESS: ctx.server.address, NARRATOR_API_KEY: ctx.server.keys.studio, NARRATOR_PLAYER: 'p-7' };
    const { code, stdout, stderr } = await runCli([], env);
    assert.equal(code, 0, `exit ${code}\nstdout:\n${stdout}\nstderr:\n${stderr}`);
  });

  test('without NARRATOR_API_KEY it exits non-zero with UNAUTHENTICATED', async () => {
    const { code, stderr } = await runCli([ctx.server.address]);
    assert.notEqual(code, 0);
    assert.match(stderr, /UNAUTHENTICATED/);
  });

  test('exits non-zero when the server cannot be reached', async () => {
    const { code, stderr } = await runCli(['127.0.0.1:1']);
    assert.notEqual(code, 0);
    assert.match(stderr, /UNAVAILABLE/);
  });
});
