// NarratorClient: a thin, typed wrapper of the narrator.v1.NarratorService
// gRPC client.
import * as grpc from '@grpc/grpc-js';
import { loadNarratorService } from './proto.js';
import { NarratorError } from './errors.js';
import { StreamChecker, WatchChecker } from './checker.js';
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
 * @typedef {{check: (ev: any) => void, end: () => void}} Checker
 */

export const DEFAULT_ADDRESS = '127.0.0.1:50051';

/**
 * The request's turn_id and resume_after_seq, with their proto defaults.
 *
 * @param {{turnId?: string, resumeAfterSeq?: number}} request
 * @returns {{turnId: string, resumeAfterSeq: number}}
 */
function resumeFields(request) {
  const resumeAfterSeq = request.resumeAfterSeq ?? 0;
  if (!Number.isInteger(resumeAfterSeq) || resumeAfterSeq < 0 || resumeAfterSeq > 0xffffffff) {
    throw new NarratorError(`resumeAfterSeq must be an integer from 0 to 2^32-1, got ${resumeAfterSeq}`, {
      grpcCode: grpc.status.INVALID_ARGUMENT,
      fieldViolations: [{ field: 'resume_after_seq', description: 'must be a uint32' }],
    });
  }
  return { turnId: request.turnId ?? '', resumeAfterSeq };
}

/**
 * A stream that throws `err` when iterated (streamed calls report every error
 * during iteration, never when they are made).
 *
 * @param {unknown} err
 * @returns {AsyncGenerator<any, void, undefined>}
 */
async function* failingStream(err) {
  throw err;
}

/**
 * @param {AbortSignal | undefined} signal
 */
function abortedError(signal) {
  return new NarratorError('Cancelled on client', {
    grpcCode: grpc.status.CANCELLED,
    cause: signal?.reason,
  });
}

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
   * @private
   * @param {number | undefined} deadlineMs
   * @returns {grpc.CallOptions}
   */
  callOptions(deadlineMs) {
    const ms = deadlineMs ?? this.defaultDeadlineMs;
    return ms === undefined || ms === null ? {} : { deadline: new Date(Date.now() + ms) };
  }

  /**
   * @private
   * @param {string} method
   * @param {object} request
   * @param {CallOptions} [opts]
   * @returns {Promise<any>}
   */
  unary(method, request, opts = {}) {
    const { signal } = opts;
    if (signal?.aborted) return Promise.reject(abortedError(signal));
    return new Promise((resolve, reject) => {
      const onAbort = () => call.cancel();
      const call = this.stub[method](
        request,
        callMetadata(this.baseMetadata, opts.metadata),
        this.callOptions(opts.deadlineMs),
        (/** @type {any} */ err, /** @type {any} */ response) => {
          signal?.removeEventListener('abort', onAbort);
          if (err) reject(NarratorError.fromGrpcError(err));
          else resolve(response);
        },
      );
      signal?.addEventListener('abort', onAbort, { once: true });
    });
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
    const opts = { ...options, deadlineMs: options.deadlineMs ?? null };
    return /** @type {AsyncGenerator<WatchEvent, void, undefined>} */ (
      this.stream('watchSession', { sessionId }, opts, toWatchEvent, new WatchChecker())
    );
  }

  /**
   * @private
   * @param {string} method
   * @param {object} request
   * @param {Omit<StreamOptions, 'deadlineMs'> & {deadlineMs?: number | null}} options null: no deadline
   * @param {(msg: any) => any} toEventOf maps a message to its event; null: skip it
   * @param {Checker} checker
   * @returns {AsyncGenerator<any, void, undefined>}
   */
  async *stream(method, request, options, toEventOf, checker) {
    const { signal } = options;
    const strict = options.strict ?? true;
    if (signal?.aborted) throw abortedError(signal);
    /** @type {grpc.ClientReadableStream<any>} */
    const call = this.stub[method](
      request,
      callMetadata(this.baseMetadata, options.metadata),
      options.deadlineMs === null ? {} : this.callOptions(options.deadlineMs),
    );
    // grpc-js emits 'error' on the stream when the status is not OK, even
    // after our iterator has stopped listening: never let that crash.
    call.on('error', () => {});
    const onAbort = () => call.cancel();
    signal?.addEventListener('abort', onAbort, { once: true });
    let finished = false;
    try {
      try {
        for await (const msg of call) {
          const ev = toEventOf(msg);
          if (ev === null) continue; // an event of a newer contract
          if (strict) checker.check(ev);
          yield ev;
        }
      } catch (err) {
        throw NarratorError.fromGrpcError(err);
      }
      if (strict) checker.end();
      finished = true;
    } finally {
      signal?.removeEventListener('abort', onAbort);
      // Early exit (break, return, throw, protocol error): cancel the RPC so
      // the server stops narrating and stores the turn as cancelled.
      if (!finished) call.cancel();
    }
  }
}
