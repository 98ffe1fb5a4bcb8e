import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { useServer } from '../support/use-server.js';

const CLI = fileURLToPath(new URL('../examples/cli.js', import.meta.url));

/**
 * @param {string[]} args
 * @param {Record<string, string>} [env]
 * @returns {Promise<{code: number, stdout: string, stderr: string}>}
 */
function runCli(args, env = {}) {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

describe('example CLI', () => {
  const ctx = useServer({ client: false });

  test('runs a turn and a decision against the server and exits 0', async () => {
    const { code, stdout, stderr } = await runCli([ctx.server.address]);
    assert.equal(code, 0, `exit ${code}\nstdout:\n${stdout}\nstderr:\n${stderr}`);
    assert.match(stdout, /decision: (attack|parley|flee) /);
    assert.match(stdout, /\nok\n?$/);
  });

  test('takes the address from NARRATOR_ADDRESS', async () => {
    const { code, stdout, stderr } = await runCli([], { NARRATOR_ADDRESS: ctx.server.address });
    assert.equal(code, 0, `exit ${code}\nstdout:\n${stdout}\nstderr:\n${stderr}`);
  });

  test('exits non-zero when the server cannot be reached', async () => {
    const { code, stderr } = await runCli(['127.0.0.1:1']);
    assert.notEqual(code, 0);
    assert.match(stderr, /UNAVAILABLE/);
  });
});
