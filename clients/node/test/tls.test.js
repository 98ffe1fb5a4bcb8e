// TLS and mTLS against real servers, with certificates the test makes
// (support/pki.js, openssl).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { NarratorClient, collectTurn } from '../src/index.js';
import { startServer } from '../support/narrator-server.js';
import { makePki } from '../support/pki.js';
import { runCli } from '../support/cli.js';
import { PLAYER, SETTING, expectNarratorError } from '../support/util.js';

/** @typedef {import('../support/pki.js').Pki} Pki */
/** @typedef {import('../support/narrator-server.js').RunningServer} RunningServer */

/**
 * Creates a session through a new client with these options, and narrates a
 * turn in it (a streamed call over the same channel); rejects as the client does.
 *
 * @param {string} address
 * @param {import('../src/types.js').ClientOptions} options
 */
async function playOnce(address, options) {
  const client = new NarratorClient(address, { deadlineMs: 20_000, ...options });
  try {
    const { sessionId } = await client.createSession({ setting: SETTING, player: PLAYER });
    const turn = await collectTurn(client.narrate({ sessionId, action: 'I knock twice' }));
    assert.ok(turn.text.length > 0);
    return sessionId;
  } finally {
    client.close();
  }
}

/**
 * Starts a keyed TLS server for a describe block.
 *
 * @param {(pki: Pki) => Record<string, string>} env the TLS variables
 */
function useTlsServer(env) {
  const ctx = /** @type {{pki: Pki, server: RunningServer}} */ (/** @type {unknown} */ ({}));
  before(async () => {
    ctx.pki = await makePki();
    ctx.server = await startServer({ keys: [{ name: 'studio' }], env: env(ctx.pki) });
  });
  after(async () => {
    await ctx.server?.stop();
    await ctx.pki?.remove();
  });
  return ctx;
}

describe('TLS', () => {
  const ctx = useTlsServer((pki) => ({ NARRATOR_TLS_CERT_FILE: pki.serverCert, NARRATOR_TLS_KEY_FILE: pki.serverKey }));

  test('a client that trusts the CA plays, with its key', async () => {
    const rootCertificates = await ctx.pki.read(ctx.pki.ca);
    await playOnce(ctx.server.address, { apiKey: ctx.server.keys.studio, tls: { rootCertificates } });
    // PEM text works as well as bytes.
    await playOnce(ctx.server.address, { apiKey: ctx.server.keys.studio, tls: { rootCertificates: rootCertificates.toString('utf8') } });
  });

  test('TLS does not replace the key', async () => {
    const rootCertificates = await ctx.pki.read(ctx.pki.ca);
    await expectNarratorError(playOnce(ctx.server.address, { tls: { rootCertificates } }), 'UNAUTHENTICATED');
  });

  test('plaintext, or a server certificate the client does not trust, cannot connect', async () => {
    const apiKey = ctx.server.keys.studio;
    await expectNarratorError(playOnce(ctx.server.address, { apiKey }), 'UNAVAILABLE');
    const strangerCa = await ctx.pki.read(ctx.pki.strangerCa);
    await expectNarratorError(playOnce(ctx.server.address, { apiKey, tls: { rootCertificates: strangerCa } }), 'UNAVAILABLE');
    // tls: true trusts the system's roots, which never signed the test CA.
    await expectNarratorError(playOnce(ctx.server.address, { apiKey, tls: true }), 'UNAVAILABLE');
  });

  test('serverName is the name checked against the certificate', async () => {
    const rootCertificates = await ctx.pki.read(ctx.pki.ca);
    const apiKey = ctx.server.keys.studio;
    const port = ctx.server.address.split(':').at(-1);
    // The certificate names narrator.internal, localhost and 127.0.0.1.
    await playOnce(`localhost:${port}`, { apiKey, tls: { rootCertificates } });
    await playOnce(ctx.server.address, { apiKey, tls: { rootCertificates, serverName: 'narrator.internal' } });
    await expectNarratorError(
      playOnce(ctx.server.address, { apiKey, tls: { rootCertificates, serverName: 'elsewhere.example' } }),
      'UNAVAILABLE',
    );
  });

  test('a certificate chain without its key (or the reverse) is refused when the client is made', async () => {
    const clientCert = await ctx.pki.read(ctx.pki.clientCert);
    assert.throws(() => new NarratorClient(ctx.server.address, { tls: { certificateChain: clientCert } }), /go together/);
    assert.throws(() => new NarratorClient(ctx.server.address, { tls: { privateKey: clientCert } }), /go together/);
  });
});

describe('mTLS', () => {
  const ctx = useTlsServer((pki) => ({
    NARRATOR_TLS_CERT_FILE: pki.serverCert,
    NARRATOR_TLS_KEY_FILE: pki.serverKey,
    NARRATOR_TLS_CLIENT_CA_FILE: pki.ca,
  }));

  test('a client with a certificate from the CA plays', async () => {
    const { pki } = ctx;
    const tls = {
      rootCertificates: await pki.read(pki.ca),
      certificateChain: await pki.read(pki.clientCert),
      privateKey: await pki.read(pki.clientKey),
    };
    await playOnce(ctx.server.address, { apiKey: ctx.server.keys.studio, tls });
  });

  test('the example CLI connects with the certificates its environment names', async () => {
    const { pki } = ctx;
    const { code, stdout, stderr } = await runCli([`localhost:${ctx.server.address.split(':').at(-1)}`], {
      NARRATOR_API_KEY: ctx.server.keys.studio,
      NARRATOR_TLS_CA_FILE: pki.ca,
      NARRATOR_TLS_CLIENT_CERT_FILE: pki.clientCert,
      NARRATOR_TLS_CLIENT_KEY_FILE: pki.clientKey,
    });
    assert.equal(code, 0, `exit ${code}\nstdout:\n${stdout}\nstderr:\n${stderr}`);
    assert.match(stdout, /\nok\n?$/);
  });

  test('without a client certificate, or with one from another CA, it cannot connect', async () => {
    const { pki } = ctx;
    const rootCertificates = await pki.read(pki.ca);
    const apiKey = ctx.server.keys.studio;
    await expectNarratorError(playOnce(ctx.server.address, { apiKey, tls: { rootCertificates } }), 'UNAVAILABLE');
    const stranger = {
      rootCertificates,
      certificateChain: await pki.read(pki.strangerCert),
      privateKey: await pki.read(pki.strangerKey),
    };
    await expectNarratorError(playOnce(ctx.server.address, { apiKey, tls: stranger }), 'UNAVAILABLE');
  });
});
