// NarratorClient: a thin, typed wrapper of the narrator.v1.NarratorService
// gRPC client.
import * as grpc from '@grpc/grpc-js';
import { loadNarratorService } from './proto.js';
import { NarratorError } from './errors.js';
import { StreamChecker, WatchChecker } from './checker.js';
import { failingStream, resumeFields, streamCall, unaryCall } from './calls.js';
import { callMetadata, channelSecurity, identityMetadata } from './connection.js';
import { toEvent, toSession, toWatchEvent } from './convert.js';

export { StreamChecker, WatchChecker } from './checker.js';

/**
 * @typedef {import('./types.js').ClientOptions} ClientOptions
 * @typedef {import('./types.js').CallOptions} CallOptions
 * @typedef {import('./types.js').StreamOptions} StreamOptions
 * @typedef {import('./types.js').Session} Session
 * @typedef {import('./types.js').CreateSessionRequest} CreateSessionRequest
 * @typedef {import('./types.js').NarrateRequest} NarrateRequest
 * @typedef {import('./types.js').DecideRequest} DecideRequest
 * @typedef {import('./types.js').NarrateEvent} NarrateEvent
 * @typedef {import('./types.js').DecideEvent} DecideEvent
 * @typedef {import('./types.js').WatchEvent} WatchEvent
 * @typedef {import('./calls.js').Checker} Checker
 * @typedef {import('./calls.js').CallSetup} CallSetup
 */

export const DEFAULT_ADDRESS = '127.0.0.1:50051';

/** The largest response the client accepts by default (channelOptions may change it). */
export const MAX_RECEIVE_BYTES = 9 * 1024 * 1024;

/**
 * The Narrator service's client.
 *
 * Every call carries the client's API key (`authorization: Bearer <key>`) and
 * player (`x-narrator-player`) when they are set. Streamed calls (narrate,
 * decide, watchSession) are async iterators of typed events; an event kind
 * this client does not know (a newer server's) is skipped.
 */
export class NarratorClient {
  /**
   * @param {string} [address] host:port; default env NARRATOR_ADDRESS, then 127.0.0.1:50051
   * @param {ClientOptions} [options]
   */
  constructor(address, options = {}) {
    const Service = loadNarratorService(options.protoDir);
    this.address = address || process.env.NARRATOR_ADDRESS || DEFAULT_ADDRESS;
    const security = channelSecurity(options);
    /** @private */
    this.defaultDeadlineMs = options.deadlineMs;
    /** @private */
    this.apiKey = options.apiKey;
    /** The player this client acts for ("" when none). */
    this.player = options.player ?? '';
    /** @private */
    this.baseMetadata = identityMetadata(this.apiKey, this.player);
    /** @private */
    this.ownsChannel = true;
    /** @private @type {any} */
    this.stub = new Service(this.address, security.credentials, {
      // Save games (ExportSession) may be up to 8 MiB: above gRPC's default 4 MiB.
      'grpc.max_receive_message_length': MAX_RECEIVE_BYTES,
      ...security.channelOptions,
      ...(options.channelOptions ?? {}),
    });
  }

  /**
   * The same client (same channel, key and options) acting for `player`: its
   * calls count against that player's quotas. Closing it leaves the channel
   * open; close the original client when done.
   *
   * @param {string} player printable ASCII (it travels as gRPC metadata)
   * @returns {NarratorClient}
   */
  withPlayer(player) {
    const view = /** @type {NarratorClient} */ (Object.create(NarratorClient.prototype));
    Object.assign(view, this, {
      player,
      baseMetadata: identityMetadata(this.apiKey, player),
      ownsChannel: false,
    });
    return view;
  }

  /** Closes the channel; calls in flight are cancelled. A withPlayer() view does nothing. */
  close() {
    if (this.ownsChannel) this.stub.close();
  }

  /**
   * Waits until the channel is connected (useful right after starting a server).
   *
   * @param {number} [timeoutMs] default 10000
   * @returns {Promise<void>}
   */
  waitForReady(timeoutMs = 10000) {
    return new Promise((resolve, reject) => {
      this.stub.waitForReady(Date.now() + timeoutMs, (/** @type {Error | undefined} */ err) => {
        if (err) {
          reject(new NarratorError(err.message, { grpcCode: grpc.status.UNAVAILABLE, cause: err }));
        } else {
          resolve();
        }
      });
    });
  }

  /**
   * The metadata, deadline and signal of one call.
   *
   * @private
   * @param {CallOptions} opts
   * @param {boolean} [useDefaultDeadline] false: only opts.deadlineMs bounds the call
   * @returns {CallSetup}
   */
  setup(opts, useDefaultDeadline = true) {
    const ms = opts.deadlineMs ?? (useDefaultDeadline ? this.defaultDeadlineMs : undefined);
    return {
      metadata: callMetadata(this.baseMetadata, opts.metadata),
      callOptions: ms === undefined || ms === null ? {} : { deadline: new Date(Date.now() + ms) },
      signal: opts.signal,
    };
  }

  /**
   * @private
   * @param {string} method
   * @param {object} request
   * @param {CallOptions} [opts]
   * @returns {Promise<any>}
   */
  unary(method, request, opts = {}) {
    return unaryCall(this.stub, method, request, this.setup(opts));
  }

  /**
   * @private
   * @param {string} method
   * @param {object} request
   * @param {StreamOptions} options
   * @param {(msg: any) => any} toEventOf
   * @param {Checker} checker used unless options.strict is false
   * @param {boolean} [useDefaultDeadline]
   * @returns {AsyncGenerator<any, void, undefined>}
   */
  stream(method, request, options, toEventOf, checker, useDefaultDeadline = true) {
    const setup = this.setup(options, useDefaultDeadline);
    return streamCall(this.stub, method, request, setup, toEventOf, options.strict === false ? null : checker);
  }

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
