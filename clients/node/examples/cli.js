#!/usr/bin/env node
// Example: one session, one narrated turn, one decision, with a spectator
// watching the session.
//
//   node examples/cli.js [address]      (default: $NARRATOR_ADDRESS or 127.0.0.1:50051)
//
// Environment: NARRATOR_API_KEY (a key from `narrator keys create`),
// NARRATOR_PLAYER (the player to act for), NARRATOR_TLS_CA_FILE (connect with
// TLS, trusting this CA), NARRATOR_TLS_CLIENT_CERT_FILE and
// NARRATOR_TLS_CLIENT_KEY_FILE (mTLS).
//
// Prints the narration as it streams, then the decision, and exits non-zero
// when a call fails or the answer breaks the contract.
import { readFileSync } from 'node:fs';
import { NarratorClient, NarratorError } from '../src/index.js';

const address = process.argv[2] || process.env.NARRATOR_ADDRESS || '127.0.0.1:50051';

/**
 * The client options the environment asks for.
 *
 * @returns {import('../src/types.js').ClientOptions}
 */
function optionsFromEnv() {
  const env = process.env;
  const read = (/** @type {string | undefined} */ file) => (file ? readFileSync(file) : undefined);
  const tls = env.NARRATOR_TLS_CA_FILE || env.NARRATOR_TLS_CLIENT_CERT_FILE
    ? {
        rootCertificates: read(env.NARRATOR_TLS_CA_FILE),
        certificateChain: read(env.NARRATOR_TLS_CLIENT_CERT_FILE),
        privateKey: read(env.NARRATOR_TLS_CLIENT_KEY_FILE),
      }
    : undefined;
  return { apiKey: env.NARRATOR_API_KEY || undefined, player: env.NARRATOR_PLAYER || undefined, tls, deadlineMs: 30_000 };
}

/**
 * @param {string} message
 * @returns {never}
 */
function fail(message) {
  throw new Error(message);
}

const scene = {
  location: 'the flooded crypt',
  characters: [
    { name: 'Mirela the smuggler', description: 'a wiry woman with a hooked knife', disposition: 'wary' },
    { name: 'the goblin chief', description: 'a scarred goblin in a rusted crown', disposition: 'hostile' },
  ],
  facts: ['the water is knee-deep', 'the torch is almost out'],
  attributes: { time: 'midnight' },
};

async function main() {
  const client = new NarratorClient(address, optionsFromEnv());
  /** @type {string | undefined} */
  let sessionId;
  /** @type {Promise<string[]> | undefined} */
  let spectator;
  try {
    const session = await client.createSession({
      setting: { world: 'a drowned city ruled by smugglers', tone: 'grim' },
      player: { name: 'Aldric', description: 'a disgraced knight with a cursed blade' },
    });
    sessionId = session.sessionId;
    console.log(`session ${sessionId} (seed ${session.seed})\n`);

    // A spectator (a stream overlay, text-to-speech...) watches every turn of
    // the session; the watch ends when the session is deleted.
    const watch = client.watchSession(sessionId);
    spectator = (async () => {
      const ended = [];
      for await (const ev of watch) {
        if (ev.type === 'completed' || ev.type === 'ended') ended.push(`${ev.turnId} ${ev.type}`);
      }
      return ended;
    })();

    // 1. A narrated turn, printed as it arrives.
    let streamed = '';
    let expectedSeq = 1;
    /** @type {string | undefined} */
    let completedText;
    for await (const ev of client.narrate(
      { sessionId, action: 'I pry the lid off the coffin', scene },
      { deadlineMs: 60_000 },
    )) {
      if (ev.type === 'started') {
        console.log(`[narration by ${ev.provider}/${ev.model}, turn ${ev.turnId}]`);
      } else if (ev.type === 'delta') {
        if (ev.seq !== expectedSeq) fail(`delta seq ${ev.seq}, expected ${expectedSeq}`);
        expectedSeq += 1;
        streamed += ev.text;
        process.stdout.write(ev.text);
      } else if (ev.type === 'completed') {
        completedText = ev.text;
        console.log(`\n[${ev.finishReason}, ${ev.usage.inputTokens} in / ${ev.usage.outputTokens} out]\n`);
      }
    }
    if (completedText === undefined) fail('narration ended without completed');
    if (completedText !== streamed) fail('the deltas do not concatenate to completed.text');
    if (!streamed) fail('empty narration');

    // 2. A decision among three options, one of which takes arguments.
    const options = [
      {
        id: 'attack',
        description: 'the goblin chief attacks someone with its spear',
        argumentsSchema: {
          type: 'object',
          properties: { target: { type: 'string', enum: ['Aldric', 'Mirela'] } },
          required: ['target'],
        },
      },
      { id: 'parley', description: 'the goblin chief lowers its spear and demands a toll' },
      { id: 'flee', description: 'the goblin chief splashes away into the dark' },
    ];
    const allowed = new Set(options.map((o) => o.id));
    /** @type {import('../src/types.js').DecisionEvent | undefined} */
    let decision;
    let rationale = '';
    let decisionText;
    let decisionTurnId = '';
    for await (const ev of client.decide(
      { sessionId, question: 'What does the goblin chief do?', options, defaultOptionId: 'parley', scene },
      { deadlineMs: 60_000 },
    )) {
      if (ev.type === 'delta') {
        rationale += ev.text;
        process.stdout.write(ev.text);
      } else if (ev.type === 'started') {
        decisionTurnId = ev.turnId;
      } else if (ev.type === 'decision') {
        decision = ev;
      } else if (ev.type === 'completed') {
        decisionText = ev.text;
      }
    }
    if (!decision) fail('decide ended without a decision');
    if (decisionText !== rationale) fail('the rationale deltas do not concatenate to completed.text');
    if (!allowed.has(decision.optionId)) fail(`decision "${decision.optionId}" is not one of ${[...allowed]}`);
    if (decision.optionId === 'attack' && !['Aldric', 'Mirela'].includes(decision.arguments.target)) {
      fail(`attack needs a target, got ${decision.argumentsJson}`);
    }
    console.log(`\n\ndecision: ${decision.optionId} ${decision.argumentsJson} (${decision.source})`);

    await client.deleteSession(sessionId);
    sessionId = undefined;
    // The watch was asked for before the first turn; the server registers it
    // a moment later, so a very fast first turn may end before it could be
    // seen. The decision, played after the whole narration, is always seen.
    const watched = await spectator;
    console.log(`the spectator saw ${watched.length} turn(s) end: ${watched.join(', ')}`);
    if (!watched.includes(`${decisionTurnId} completed`)) fail('the spectator did not see the decision');
    console.log('ok');
  } finally {
    if (sessionId) await client.deleteSession(sessionId).catch(() => {});
    client.close();
    await spectator?.catch(() => {});
  }
}

main().catch((err) => {
  if (err instanceof NarratorError) {
    console.error(`\nerror: ${err.code} (${err.grpcCode}): ${err.message}`);
    for (const v of err.fieldViolations) console.error(`  ${v.field}: ${v.description}`);
    for (const q of err.quotaViolations) console.error(`  quota ${q.limit} of ${q.subject}: ${q.description}`);
    if (err.retryAfterMs !== null) console.error(`  retry after ${err.retryAfterMs} ms`);
  } else {
    console.error(`\nerror: ${err?.message ?? err}`);
  }
  process.exitCode = 1;
});
