// NarratorClient: a thin, typed wrapper of the narrator.v1.NarratorService
// gRPC client.
import { ClientBase } from './base-client.js';
import { StreamChecker, WatchChecker } from './checker.js';
import { failingStream, resumeFields } from './calls.js';
import { fromLoreEntry, toEvent, toLoreEntry, toSession, toTurnContext, toWatchEvent } from './convert.js';

export { StreamChecker, WatchChecker } from './checker.js';
export { DEFAULT_ADDRESS, MAX_RECEIVE_BYTES } from './base-client.js';

/**
 * @typedef {import('./types.js').CallOptions} CallOptions
 * @typedef {import('./types.js').StreamOptions} StreamOptions
 * @typedef {import('./types.js').Session} Session
 * @typedef {import('./types.js').CreateSessionRequest} CreateSessionRequest
 * @typedef {import('./types.js').NarrateRequest} NarrateRequest
 * @typedef {import('./types.js').DecideRequest} DecideRequest
 * @typedef {import('./types.js').NarrateEvent} NarrateEvent
 * @typedef {import('./types.js').DecideEvent} DecideEvent
 * @typedef {import('./types.js').WatchEvent} WatchEvent
 * @typedef {import('./types.js').LoreEntry} LoreEntry
 * @typedef {import('./types.js').LoreEntryInput} LoreEntryInput
 * @typedef {import('./types.js').LorePage} LorePage
 * @typedef {import('./types.js').TurnContext} TurnContext
 */

/**
 * The Narrator service's client: `new NarratorClient(address, options)`
 * (see ClientOptions in types.js).
 *
 * Every call carries the client's API key (`authorization: Bearer <key>`) and
 * player (`x-narrator-player`) when they are set. Streamed calls (narrate,
 * decide, watchSession) are async iterators of typed events; an event kind
 * this client does not know (a newer server's) is skipped.
 */
export class NarratorClient extends ClientBase {
  /**
   * Starts a new campaign.
   *
   * @param {CreateSessionRequest} request
   * @param {CallOptions} [options]
   * @returns {Promise<Session>} the new session, with no turns yet
   */
  async createSession(request, options) {
    const res = await this.unary(
      'createSession',
      {
        setting: request.setting,
        player: request.player,
        seed: request.seed === undefined ? '0' : String(request.seed),
        contentRating: request.contentRating ?? 'CONTENT_RATING_UNSPECIFIED',
      },
      options,
    );
    return toSession(res.session);
  }

  /**
   * Reads a session with its most recent turns (oldest first).
   *
   * @param {string} sessionId
   * @param {number} [recentTurnLimit] 0 or absent: 10; at most 100
   * @param {CallOptions} [options]
   * @returns {Promise<Session>}
   */
  async getSession(sessionId, recentTurnLimit = 0, options) {
    const res = await this.unary('getSession', { sessionId, recentTurnLimit }, options);
    return toSession(res.session);
  }

  /**
   * Deletes a session and all its turns (NOT_FOUND when unknown).
   *
   * @param {string} sessionId
   * @param {CallOptions} [options]
   * @returns {Promise<void>}
   */
  async deleteSession(sessionId, options) {
    await this.unary('deleteSession', { sessionId }, options);
  }

  /**
   * Adds a lore entry to a session, or replaces one (entry.entryId set; an
   * unknown one is NOT_FOUND). Bad fields are INVALID_ARGUMENT (e.g. on
   * "entry.keys[2]"); a session at its entry limit is FAILED_PRECONDITION.
   *
   * @param {string} sessionId
   * @param {LoreEntryInput} entry
   * @param {CallOptions} [options]
   * @returns {Promise<LoreEntry>} the entry as stored, with its entryId and updateTime
   */
  async putLoreEntry(sessionId, entry, options) {
    const res = await this.unary('putLoreEntry', { sessionId, entry: fromLoreEntry(entry) }, options);
    return toLoreEntry(res.entry);
  }

  /**
   * One page of a session's lore, by priority then most recently updated.
   *
   * @param {string} sessionId
   * @param {{pageSize?: number, pageToken?: string}} [page] pageSize 0 or absent: 100; at most 500
   * @param {CallOptions} [options]
   * @returns {Promise<LorePage>}
   */
  async listLoreEntries(sessionId, page = {}, options) {
    const request = { sessionId, pageSize: page.pageSize ?? 0, pageToken: page.pageToken ?? '' };
    const res = await this.unary('listLoreEntries', request, options);
    return { entries: (res.entries ?? []).map(toLoreEntry), nextPageToken: res.nextPageToken ?? '' };
  }

  /**
   * Every lore entry of a session, page after page (`for await`).
   *
   * @param {string} sessionId
   * @param {CallOptions & {pageSize?: number}} [options]
   * @returns {AsyncGenerator<LoreEntry, void, undefined>}
   */
  async *loreEntries(sessionId, options = {}) {
    let pageToken = '';
    do {
      const page = await this.listLoreEntries(sessionId, { pageSize: options.pageSize, pageToken }, options);
      yield* page.entries;
      pageToken = page.nextPageToken;
    } while (pageToken);
  }

  /**
   * Deletes a lore entry (NOT_FOUND when unknown).
   *
   * @param {string} sessionId
   * @param {string} entryId
   * @param {CallOptions} [options]
   * @returns {Promise<void>}
   */
  async deleteLoreEntry(sessionId, entryId, options) {
    await this.unary('deleteLoreEntry', { sessionId, entryId }, options);
  }

  /**
   * The sections of the prompt a turn's model request held, with token
   * estimates: what the narrator knew when it spoke. An empty turnId previews
   * the next turn's prompt. NOT_FOUND for an unknown turn; FAILED_PRECONDITION
   * when none was recorded for it (an imported turn, an old one, one running
   * on another server).
   *
   * @param {string} sessionId
   * @param {string} [turnId]
   * @param {CallOptions} [options]
   * @returns {Promise<TurnContext>}
   */
  async getTurnContext(sessionId, turnId = '', options) {
    return toTurnContext(await this.unary('getTurnContext', { sessionId, turnId }, options));
  }

  /**
   * A session as a save game: one versioned JSON document (session, turns,
   * lore, summaries; no secrets).
   *
   * @param {string} sessionId
   * @param {CallOptions} [options]
   * @returns {Promise<string>} the document, to give importSession() as it is
   */
  async exportSession(sessionId, options) {
    return (await this.unary('exportSession', { sessionId }, options)).document;
  }

  /**
   * Creates a new session (a new sessionId, the turn ids kept) from a save
   * game; a bad document is INVALID_ARGUMENT with violations on "document.<path>".
   *
   * @param {string} document from exportSession(); at most 8 MiB
   * @param {CallOptions} [options]
   * @returns {Promise<Session>}
   */
  async importSession(document, options) {
    return toSession((await this.unary('importSession', { document }, options)).session);
  }

  /**
   * Narrates a player action. The call starts when iteration starts; breaking
   * out of the loop or aborting the signal cancels it.
   *
   * With a `turnId` the turn is resumable: after a lost connection, call
   * again with the same sessionId, action, turnId and `resumeAfterSeq` = the
   * last seq received to get the rest (started.resumed is then true). With
   * `regenerate` the turn replaces the session's last one (a re-roll).
   *
   * @param {NarrateRequest} request
   * @param {StreamOptions} [options]
   * @returns {AsyncGenerator<NarrateEvent, void, undefined>}
   */
  narrate(request, options = {}) {
    let resume;
    try {
      resume = resumeFields(request);
    } catch (err) {
      return failingStream(err);
    }
    const req = {
      sessionId: request.sessionId,
      action: request.action,
      scene: request.scene ?? null,
      regenerate: Boolean(request.regenerate),
      ...resume,
    };
    return /** @type {AsyncGenerator<NarrateEvent, void, undefined>} */ (
      this.stream('narrate', req, options, toEvent, new StreamChecker(false, null, resume))
    );
  }

  /**
   * Asks the narrator to decide among options: a streamed rationale, then one
   * decision, then completed. The call starts when iteration starts; breaking
   * out of the loop or aborting the signal cancels it. `turnId`,
   * `resumeAfterSeq` and `regenerate` work as for narrate().
   *
   * @param {DecideRequest} request
   * @param {StreamOptions} [options]
   * @returns {AsyncGenerator<DecideEvent, void, undefined>}
   */
  decide(request, options = {}) {
    const opts = request.options ?? [];
    let resume;
    try {
      resume = resumeFields(request);
    } catch (err) {
      return failingStream(err);
    }
    const req = {
      sessionId: request.sessionId,
      question: request.question,
      options: opts.map((o) => ({
        id: o.id,
        description: o.description ?? '',
        argumentsSchema:
          o.argumentsSchema === undefined || o.argumentsSchema === null
            ? ''
            : typeof o.argumentsSchema === 'string'
              ? o.argumentsSchema
              : JSON.stringify(o.argumentsSchema),
      })),
      defaultOptionId: request.defaultOptionId ?? '',
      scene: request.scene ?? null,
      regenerate: Boolean(request.regenerate),
      ...resume,
    };
    const checker = new StreamChecker(true, new Set(opts.map((o) => o.id)), resume);
    return /** @type {AsyncGenerator<DecideEvent, void, undefined>} */ (
      this.stream('decide', req, options, toEvent, checker)
    );
  }

  /**
   * Every turn of a session as it happens, whoever plays it and on whichever
   * server: each event carries its `turnId` and `kind`; a turn goes started
   * (with its `input`), deltas, (decision), then completed, or `ended` when
   * it stopped without completing. A watcher that joins while a turn runs
   * gets that turn from its start.
   *
   * The iteration ends normally when the session is deleted; it throws
   * NarratorError RESOURCE_EXHAUSTED when this watcher fell too far behind
   * (watch again to continue with the next turn), NOT_FOUND for an unknown
   * session (or another tenant's). Breaking out of the loop or aborting the
   * signal stops watching. Only `options.deadlineMs` bounds it (the client's
   * default deadline does not).
   *
   * @param {string} sessionId
   * @param {StreamOptions} [options]
   * @returns {AsyncGenerator<WatchEvent, void, undefined>}
   */
  watchSession(sessionId, options = {}) {
    return /** @type {AsyncGenerator<WatchEvent, void, undefined>} */ (
      this.stream('watchSession', { sessionId }, options, toWatchEvent, new WatchChecker(), false)
    );
  }

}
