// Collects a whole streamed turn into one object.

/**
 * @typedef {import('./types.js').Usage} Usage
 * @typedef {import('./types.js').Decision} Decision
 * @typedef {import('./types.js').Recovery} Recovery
 * @typedef {import('./types.js').DecideEvent} DecideEvent
 */

/**
 * @typedef {object} CollectedTurn
 * @property {string} turnId
 * @property {string} provider
 * @property {string} model
 * @property {boolean} resumed true when the call resumed an existing turn (same turnId)
 * @property {string} text the completed text: the concatenated deltas, or for a
 *   resumed call the whole turn (the deltas received are its end)
 * @property {number} deltaCount deltas received by this call
 * @property {Decision | null} decision null for Narrate
 * @property {string} finishReason
 * @property {Usage} usage
 * @property {Recovery[]} recoveries mid-stream takeovers; usually empty
 */

/**
 * Consumes a narrate() or decide() stream and returns the whole turn.
 *
 * @param {AsyncIterable<DecideEvent>} events
 * @param {{onDelta?: (text: string, seq: number) => void}} [hooks] onDelta is
 *   called for each delta as it arrives (e.g. to print it)
 * @returns {Promise<CollectedTurn>}
 */
export async function collectTurn(events, hooks = {}) {
  /** @type {CollectedTurn} */
  const turn = {
    turnId: '',
    provider: '',
    model: '',
    resumed: false,
    text: '',
    deltaCount: 0,
    decision: null,
    finishReason: '',
    usage: { inputTokens: 0, outputTokens: 0, estimated: false, cachedInputTokens: 0 },
    recoveries: [],
  };
  for await (const ev of events) {
    switch (ev.type) {
      case 'started':
        turn.turnId = ev.turnId;
        turn.provider = ev.provider;
        turn.model = ev.model;
        turn.resumed = ev.resumed;
        break;
      case 'delta':
        turn.deltaCount += 1;
        turn.text += ev.text;
        hooks.onDelta?.(ev.text, ev.seq);
        break;
      case 'decision':
        turn.decision = {
          optionId: ev.optionId,
          arguments: ev.arguments,
          argumentsJson: ev.argumentsJson,
          source: ev.source,
        };
        break;
      case 'completed':
        turn.text = ev.text;
        turn.finishReason = ev.finishReason;
        turn.usage = ev.usage;
        turn.recoveries = ev.recoveries;
        break;
    }
  }
  return turn;
}
