// NarratorClient: a thin, typed wrapper of the narrator.v1.NarratorService
// gRPC client.
import * as grpc from '@grpc/grpc-js';
import { loadNarratorService } from './proto.js';
import { NarratorError } from './errors.js';

/**
 * @typedef {object} Setting
 * @property {string} world the world, in a sentence or a paragraph (required)
 * @property {string} [tone] how the narration should feel
 */
/**
 * @typedef {object} PlayerCharacter
 * @property {string} name (required)
 * @property {string} [description]
 */
/**
 * @typedef {object} Character
 * @property {string} name
 * @property {string} [description]
 * @property {string} [disposition]
 */
/**
 * @typedef {object} Scene
 * @property {string} [location]
 * @property {Character[]} [characters]
 * @property {string[]} [facts]
 * @property {Record<string, string>} [attributes]
 */
/**
 * @typedef {object} Usage
 * @property {number} inputTokens
 * @property {number} outputTokens
 */
/**
 * @typedef {object} Recovery a mid-stream takeover: another provider continued the turn
 * @property {string} provider the provider that continued (an upstream name or "offline")
 * @property {string} model the model that continued
 * @property {number} afterSeq the last seq sent before the takeover; its text starts at afterSeq + 1
 */
/**
 * @typedef {object} Decision
 * @property {string} optionId
 * @property {Record<string, any>} arguments the parsed argumentsJson
 * @property {string} argumentsJson
 * @property {string} source e.g. "DECISION_SOURCE_MODEL"
 */
/**
 * @typedef {object} Turn
 * @property {string} turnId
 * @property {string} kind "TURN_KIND_NARRATION" | "TURN_KIND_DECISION"
 * @property {string} input the action or the question
 * @property {Scene | null} scene
 * @property {string} text
 * @property {Decision | null} decision only for completed decision turns
 * @property {string} status "TURN_STATUS_COMPLETED" | "TURN_STATUS_CANCELLED" | "TURN_STATUS_FAILED"
 * @property {string} provider
 * @property {string} model
 * @property {Usage} usage
 * @property {Date | null} createTime
 * @property {Recovery[]} recoveries mid-stream takeovers, as in completed.recoveries
 */
/**
 * @typedef {object} Session
 * @property {string} sessionId
 * @property {Setting} setting
 * @property {PlayerCharacter} player
 * @property {string} seed uint64 as a decimal string
 * @property {number} turnCount
 * @property {Turn[]} recentTurns oldest first
 * @property {Date | null} createTime
 */
/**
 * @typedef {object} DecisionOption
 * @property {string} id
 * @property {string} [description]
 * @property {string | object} [argumentsSchema] JSON Schema, as JSON text or as an object
 */
/**
 * @typedef {{type: 'started', turnId: string, provider: string, model: string, resumed: boolean}} StartedEvent
 *   resumed: true when the call resumed an existing turn (same turnId) instead of starting it
 * @typedef {{type: 'delta', seq: number, text: string}} DeltaEvent
 * @typedef {{type: 'decision'} & Decision} DecisionEvent
 * @typedef {{type: 'completed', finishReason: string, usage: Usage, text: string, recoveries: Recovery[]}} CompletedEvent
 *   text: the whole text of the turn, also when the stream resumed after a seq;
 *   recoveries: empty unless another provider continued the turn mid-stream
 * @typedef {StartedEvent | DeltaEvent | CompletedEvent} NarrateEvent
 * @typedef {StartedEvent | DeltaEvent | DecisionEvent | CompletedEvent} DecideEvent
 */
/**
 * @typedef {object} NarrateRequest
 * @property {string} sessionId
 * @property {string} action what the player does (required)
 * @property {Scene} [scene]
 * @property {string} [turnId] client-chosen id (1 to 64 of A-Z a-z 0-9 _ - . :)
 *   that makes the turn resumable: calling again with the same sessionId and
 *   turnId replays a completed turn, joins a running one, or replays a
 *   cancelled/failed one and ends with ABORTED; it never starts a second turn
 * @property {number} [resumeAfterSeq] when resuming, the last seq already
 *   received: only the later deltas are sent; 0 (default) sends them all
 */
/**
 * @typedef {object} DecideRequest
 * @property {string} sessionId
 * @property {string} question what must be decided (required)
 * @property {DecisionOption[]} options at least one, ids unique
 * @property {string} [defaultOptionId]
 * @property {Scene} [scene]
 * @property {string} [turnId] as NarrateRequest.turnId
 * @property {number} [resumeAfterSeq] as NarrateRequest.resumeAfterSeq
 */
/**
 * @typedef {object} CallOptions
 * @property {AbortSignal} [signal] aborting it cancels the call (NarratorError CANCELLED)
 * @property {number} [deadlineMs] deadline from now (NarratorError DEADLINE_EXCEEDED)
 * @property {grpc.Metadata} [metadata] extra request metadata
 */
/**
 * @typedef {object} StreamOptions
 * @property {AbortSignal} [signal]
 * @property {number} [deadlineMs]
 * @property {grpc.Metadata} [metadata]
 * @property {boolean} [strict] check the stream against the contract (event
 *   order, seq 1..n, or resumeAfterSeq + 1 .. n when resumed, completed.text,
 *   decision among the options) and throw a NarratorError INTERNAL on a
 *   violation; default true
 */
/**
 * @typedef {object} ClientOptions
 * @property {grpc.ChannelCredentials} [credentials] default: insecure
 * @property {Partial<grpc.ChannelOptions>} [channelOptions]
 * @property {number} [deadlineMs] default deadline of unary calls (none by default)
 * @property {string} [protoDir] folder holding narrator/v1/*.proto
 */

export const DEFAULT_ADDRESS = '127.0.0.1:50051';

/** @param {any} ts google.protobuf.Timestamp as loaded */
function toDate(ts) {
  if (!ts) return null;
  return new Date(Number(ts.seconds) * 1000 + Math.floor((ts.nanos ?? 0) / 1e6));
}

/** @param {any} u */
function toUsage(u) {
  return { inputTokens: u?.inputTokens ?? 0, outputTokens: u?.outputTokens ?? 0 };
}

/**
 * @param {any} list repeated narrator.v1.Recovery as loaded
 * @returns {Recovery[]}
 */
function toRecoveries(list) {
  return (list ?? []).map((/** @type {any} */ r) => ({
    provider: r.provider ?? '',
    model: r.model ?? '',
    afterSeq: r.afterSeq ?? 0,
  }));
}

/**
 * @param {any} d
 * @returns {Decision}
 */
function toDecision(d) {
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

/** @param {any} s */
function toScene(s) {
  if (!s) return null;
  return {
    location: s.location ?? '',
    characters: (s.characters ?? []).map((/** @type {any} */ c) => ({
      name: c.name,
      description: c.description,
      disposition: c.disposition,
    })),
    facts: [...(s.facts ?? [])],
    attributes: { ...(s.attributes ?? {}) },
  };
}

/**
 * @param {any} t
 * @returns {Turn}
 */
function toTurn(t) {
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
  };
}

/**
 * @param {any} s
 * @returns {Session}
 */
function toSession(s) {
  return {
    sessionId: s.sessionId,
    setting: { world: s.setting?.world ?? '', tone: s.setting?.tone ?? '' },
    player: { name: s.player?.name ?? '', description: s.player?.description ?? '' },
    seed: String(s.seed ?? '0'),
    turnCount: s.turnCount ?? 0,
    recentTurns: (s.recentTurns ?? []).map(toTurn),
    createTime: toDate(s.createTime),
  };
}

/**
 * Maps one streamed response message to a typed event.
 *
 * @param {any} msg
 * @returns {DecideEvent}
 */
function toEvent(msg) {
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
      throw new NarratorError(`stream message without a known event (${String(msg.event)})`, {
        grpcCode: grpc.status.INTERNAL,
      });
  }
}

/** @param {string} message */
function protocolError(message) {
  return new NarratorError(`protocol violation: ${message}`, { grpcCode: grpc.status.INTERNAL });
}

/**
 * Checks a stream of events against the contract, event by event.
 *
 * A normal stream: started, deltas seq 1..n, (decision), completed whose text
 * is exactly the concatenated deltas. A resumed stream (started.resumed, only
 * possible when the request had a turnId) sends only the deltas after
 * resumeAfterSeq: they are numbered resumeAfterSeq + 1 .. n without gaps, and
 * completed.text (the whole turn) ends with their concatenation (equals it when
 * resumeAfterSeq is 0).
 */
export class StreamChecker {
  /**
   * @param {boolean} expectDecision
   * @param {Set<string> | null} optionIds
   * @param {{turnId?: string, resumeAfterSeq?: number}} [resume] the request's
   *   turnId and resumeAfterSeq
   */
  constructor(expectDecision, optionIds, resume = {}) {
    this.expectDecision = expectDecision;
    this.optionIds = optionIds;
    this.turnId = resume.turnId ?? '';
    this.resumeAfterSeq = resume.resumeAfterSeq ?? 0;
    this.started = false;
    this.resumed = false;
    this.nextSeq = 1;
    this.deltaCount = 0;
    this.text = '';
    this.decided = false;
    this.completed = false;
  }

  /** @param {DecideEvent} ev */
  check(ev) {
    if (this.completed) throw protocolError(`${ev.type} after completed`);
    if (ev.type === 'started') {
      if (this.started) throw protocolError('second started');
      this.started = true;
      if (ev.resumed) {
        if (!this.turnId) throw protocolError('started.resumed in a call without a turn_id');
        this.resumed = true;
        this.nextSeq = this.resumeAfterSeq + 1;
      }
      return;
    }
    if (!this.started) throw protocolError(`${ev.type} before started`);
    if (ev.type === 'delta') {
      if (this.decided) throw protocolError('delta after decision');
      if (ev.seq !== this.nextSeq) throw protocolError(`delta seq ${ev.seq}, expected ${this.nextSeq}`);
      this.nextSeq += 1;
      this.deltaCount += 1;
      this.text += ev.text;
    } else if (ev.type === 'decision') {
      if (!this.expectDecision) throw protocolError('decision in a Narrate stream');
      if (this.decided) throw protocolError('second decision');
      if (this.optionIds && !this.optionIds.has(ev.optionId)) {
        throw protocolError(`decision option "${ev.optionId}" is not one of the request's options`);
      }
      if (ev.arguments === null || typeof ev.arguments !== 'object' || Array.isArray(ev.arguments)) {
        throw protocolError(`decision arguments are not a JSON object: ${ev.argumentsJson}`);
      }
      this.decided = true;
    } else if (ev.type === 'completed') {
      if (this.expectDecision && !this.decided) throw protocolError('completed without a decision');
      if (!this.resumed || this.resumeAfterSeq === 0) {
        if (ev.text !== this.text) throw protocolError('completed.text differs from the concatenated deltas');
      } else if (!ev.text.endsWith(this.text)) {
        throw protocolError(`completed.text does not end with the deltas after seq ${this.resumeAfterSeq}`);
      }
      let previous = 0;
      for (const r of ev.recoveries) {
        if (r.afterSeq >= this.nextSeq) {
          throw protocolError(`recovery after seq ${r.afterSeq}, but the last delta was seq ${this.nextSeq - 1}`);
        }
        if (r.afterSeq < previous) throw protocolError('recoveries are not in order');
        previous = r.afterSeq;
      }
      this.completed = true;
    }
  }

  end() {
    if (!this.completed) throw protocolError('stream ended without completed');
  }
}

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

/** The Narrator service's client. */
export class NarratorClient {
  /**
   * @param {string} [address] host:port; default env NARRATOR_ADDRESS, then 127.0.0.1:50051
   * @param {ClientOptions} [options]
   */
  constructor(address, options = {}) {
    const Service = loadNarratorService(options.protoDir);
    this.address = address || process.env.NARRATOR_ADDRESS || DEFAULT_ADDRESS;
    /** @private */
    this.defaultDeadlineMs = options.deadlineMs;
    /** @private @type {any} */
    this.stub = new Service(
      this.address,
      options.credentials ?? grpc.credentials.createInsecure(),
      options.channelOptions ?? {},
    );
  }

  /** Closes the channel; calls in flight are cancelled. */
  close() {
    this.stub.close();
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
        opts.metadata ?? new grpc.Metadata(),
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
   * @param {{setting: Setting, player: PlayerCharacter, seed?: number | bigint | string}} request
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
   * last seq received to get the rest (started.resumed is then true).
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
    const req = { sessionId: request.sessionId, action: request.action, scene: request.scene ?? null, ...resume };
    return /** @type {AsyncGenerator<NarrateEvent, void, undefined>} */ (
      this.stream('narrate', req, options, new StreamChecker(false, null, resume))
    );
  }

  /**
   * Asks the narrator to decide among options: a streamed rationale, then one
   * decision, then completed. The call starts when iteration starts; breaking
   * out of the loop or aborting the signal cancels it. `turnId` and
   * `resumeAfterSeq` make it resumable, as for narrate().
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
      ...resume,
    };
    return this.stream('decide', req, options, new StreamChecker(true, new Set(opts.map((o) => o.id)), resume));
  }

  /**
   * @private
   * @param {string} method
   * @param {object} request
   * @param {StreamOptions} options
   * @param {StreamChecker} checker
   * @returns {AsyncGenerator<DecideEvent, void, undefined>}
   */
  async *stream(method, request, options, checker) {
    const { signal } = options;
    const strict = options.strict ?? true;
    if (signal?.aborted) throw abortedError(signal);
    /** @type {grpc.ClientReadableStream<any>} */
    const call = this.stub[method](
      request,
      options.metadata ?? new grpc.Metadata(),
      this.callOptions(options.deadlineMs),
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
          const ev = toEvent(msg);
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
