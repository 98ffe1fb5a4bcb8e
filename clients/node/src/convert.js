// Maps the messages proto-loader gives (camelCase, enums as names, unset
// messages as null) to the client's plain objects (see types.js).
import * as grpc from '@grpc/grpc-js';
import { NarratorError } from './errors.js';

/**
 * @typedef {import('./types.js').Usage} Usage
 * @typedef {import('./types.js').Recovery} Recovery
 * @typedef {import('./types.js').Decision} Decision
 * @typedef {import('./types.js').Scene} Scene
 * @typedef {import('./types.js').Turn} Turn
 * @typedef {import('./types.js').Session} Session
 * @typedef {import('./types.js').DecideEvent} DecideEvent
 * @typedef {import('./types.js').WatchEvent} WatchEvent
 * @typedef {import('./types.js').LoreEntry} LoreEntry
 * @typedef {import('./types.js').LoreEntryInput} LoreEntryInput
 * @typedef {import('./types.js').TurnContext} TurnContext
 */

/** @param {any} ts google.protobuf.Timestamp as loaded */
export function toDate(ts) {
  if (!ts) return null;
  return new Date(Number(ts.seconds) * 1000 + Math.floor((ts.nanos ?? 0) / 1e6));
}

/**
 * @param {any} u
 * @returns {Usage}
 */
export function toUsage(u) {
  return {
    inputTokens: u?.inputTokens ?? 0,
    outputTokens: u?.outputTokens ?? 0,
    estimated: Boolean(u?.estimated),
    cachedInputTokens: u?.cachedInputTokens ?? 0,
  };
}

/**
 * @param {any} list repeated narrator.v1.Recovery as loaded
 * @returns {Recovery[]}
 */
export function toRecoveries(list) {
  return (list ?? []).map((/** @type {any} */ r) => ({
    provider: r.provider ?? '',
    model: r.model ?? '',
    afterSeq: r.afterSeq ?? 0,
    reason: r.reason ?? 'RECOVERY_REASON_UNSPECIFIED',
  }));
}

/**
 * @param {any} d
 * @returns {Decision}
 */
export function toDecision(d) {
  const argumentsJson = d.argumentsJson || '{}';
  let args;
  try {
    args = JSON.parse(argumentsJson);
  } catch (err) {
    throw new NarratorError(`decision arguments are not valid JSON: ${argumentsJson}`, {
      grpcCode: grpc.status.INTERNAL,
      cause: err,
    });
  }
  return { optionId: d.optionId, arguments: args, argumentsJson, source: d.source };
}

/**
 * @param {any} s
 * @returns {Scene | null}
 */
export function toScene(s) {
  if (!s) return null;
  return {
    location: s.location ?? '',
    characters: (s.characters ?? []).map((/** @type {any} */ c) => ({
      name: c.name,
      description: c.description,
      disposition: c.disposition,
      pronouns: c.pronouns ?? '',
    })),
    facts: [...(s.facts ?? [])],
    attributes: { ...(s.attributes ?? {}) },
  };
}

/**
 * @param {any} t
 * @returns {Turn}
 */
export function toTurn(t) {
  return {
    turnId: t.turnId,
    kind: t.kind,
    input: t.input,
    scene: toScene(t.scene),
    text: t.text,
    decision: t.decision ? toDecision(t.decision) : null,
    status: t.status,
    provider: t.provider,
    model: t.model,
    usage: toUsage(t.usage),
    createTime: toDate(t.createTime),
    recoveries: toRecoveries(t.recoveries),
    finishReason: t.finishReason ?? 'FINISH_REASON_UNSPECIFIED',
    superseded: Boolean(t.superseded),
    replacesTurnId: t.replacesTurnId ?? '',
  };
}

/**
 * @param {any} s
 * @returns {Session}
 */
export function toSession(s) {
  return {
    sessionId: s.sessionId,
    setting: { world: s.setting?.world ?? '', tone: s.setting?.tone ?? '' },
    player: { name: s.player?.name ?? '', description: s.player?.description ?? '' },
    seed: String(s.seed ?? '0'),
    turnCount: s.turnCount ?? 0,
    recentTurns: (s.recentTurns ?? []).map(toTurn),
    createTime: toDate(s.createTime),
    contentRating: s.contentRating ?? 'CONTENT_RATING_UNSPECIFIED',
  };
}

/**
 * The event of one oneof case, shared by Narrate, Decide and WatchSession
 * messages; null for a case this client does not know (a newer server's).
 *
 * @param {any} msg
 * @returns {DecideEvent | null}
 */
export function toEvent(msg) {
  switch (msg.event) {
    case 'started':
      return {
        type: 'started',
        turnId: msg.started.turnId,
        provider: msg.started.provider,
        model: msg.started.model,
        resumed: Boolean(msg.started.resumed),
      };
    case 'delta':
      return { type: 'delta', seq: msg.delta.seq, text: msg.delta.text };
    case 'decision':
      return { type: 'decision', ...toDecision(msg.decision) };
    case 'completed':
      return {
        type: 'completed',
        finishReason: msg.completed.finishReason,
        usage: toUsage(msg.completed.usage),
        text: msg.completed.text,
        recoveries: toRecoveries(msg.completed.recoveries),
      };
    default:
      return null;
  }
}

/**
 * A WatchSession message as an event tagged with its turn; null for an event
 * this client does not know.
 *
 * @param {any} msg
 * @returns {WatchEvent | null}
 */
export function toWatchEvent(msg) {
  const turn = { turnId: msg.turnId ?? '', kind: msg.kind ?? 'TURN_KIND_UNSPECIFIED' };
  if (msg.event === 'ended') {
    return { type: 'ended', ...turn, status: msg.ended.status, reason: msg.ended.reason ?? '' };
  }
  const ev = toEvent(msg);
  if (ev === null) return null;
  if (ev.type === 'started') return { ...ev, ...turn, input: msg.input ?? '' };
  return { ...ev, ...turn };
}

/**
 * @param {any} e narrator.v1.LoreEntry as loaded
 * @returns {LoreEntry}
 */
export function toLoreEntry(e) {
  return {
    entryId: e.entryId ?? '',
    keys: [...(e.keys ?? [])],
    content: e.content ?? '',
    priority: e.priority ?? 0,
    alwaysOn: Boolean(e.alwaysOn),
    updateTime: toDate(e.updateTime),
  };
}

/**
 * @param {LoreEntryInput} entry
 * @returns {object} a narrator.v1.LoreEntry for proto-loader
 */
export function fromLoreEntry(entry) {
  return {
    entryId: entry.entryId ?? '',
    keys: entry.keys ?? [],
    content: entry.content,
    priority: entry.priority ?? 0,
    alwaysOn: Boolean(entry.alwaysOn),
  };
}

/**
 * @param {any} r narrator.v1.GetTurnContextResponse as loaded
 * @returns {TurnContext}
 */
export function toTurnContext(r) {
  return {
    turnId: r.turnId ?? '',
    sections: (r.sections ?? []).map((/** @type {any} */ c) => ({
      kind: c.kind,
      title: c.title ?? '',
      text: c.text ?? '',
      tokens: c.tokens ?? 0,
      loreEntryId: c.loreEntryId ?? '',
      matchedKey: c.matchedKey ?? '',
      turnId: c.turnId ?? '',
    })),
    totalTokens: r.totalTokens ?? 0,
    budgetTokens: r.budgetTokens ?? 0,
  };
}
