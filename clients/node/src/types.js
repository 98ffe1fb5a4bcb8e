// JSDoc types of the client's API: what its methods take and return. Enums
// are their proto names ("TURN_STATUS_COMPLETED"); a value this client does
// not know (from a newer server) comes as its number.
export {};

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
 * @property {string} [pronouns] "she/her", "he/him", "they/them", "it/its"; empty: inferred
 */
/**
 * @typedef {object} Scene
 * @property {string} [location]
 * @property {Character[]} [characters]
 * @property {string[]} [facts]
 * @property {Record<string, string>} [attributes]
 */
/**
 * @typedef {'CONTENT_RATING_UNSPECIFIED' | 'CONTENT_RATING_EVERYONE' | 'CONTENT_RATING_TEEN' | 'CONTENT_RATING_MATURE'} ContentRating
 */
/**
 * @typedef {object} Usage
 * @property {number} inputTokens
 * @property {number} outputTokens
 * @property {boolean} estimated true when the counts are the server's estimate (the upstream sent none)
 * @property {number} cachedInputTokens of inputTokens, how many the upstream served from its prompt cache
 */
/**
 * @typedef {object} Recovery a mid-stream takeover: another provider (or server) continued the turn
 * @property {string} provider the provider that continued (an upstream name or "offline")
 * @property {string} model the model that continued
 * @property {number} afterSeq the last seq sent before the takeover; its text starts at afterSeq + 1
 * @property {string} reason "RECOVERY_REASON_UPSTREAM_FAILED", "_STALLED", "_TAKEOVER", "_LAST_CHANCE" or "_UNSPECIFIED"
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
 * @property {string} status "TURN_STATUS_COMPLETED", "_CANCELLED", "_FAILED", "_RUNNING" or "_INTERRUPTED"
 * @property {string} provider
 * @property {string} model
 * @property {Usage} usage
 * @property {Date | null} createTime
 * @property {Recovery[]} recoveries mid-stream takeovers, as in completed.recoveries
 * @property {string} finishReason completed turns; "FINISH_REASON_UNSPECIFIED" otherwise
 * @property {boolean} superseded a later turn regenerated this one: kept, but out of the campaign's memory
 * @property {string} replacesTurnId the turn this one regenerated ("" when it is not a regeneration)
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
 * @property {string} contentRating e.g. "CONTENT_RATING_TEEN"
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
 * @typedef {object} WatchedTurn what every event of a watched turn carries
 * @property {string} turnId the turn the event belongs to
 * @property {string} kind "TURN_KIND_NARRATION" | "TURN_KIND_DECISION"
 */
/**
 * @typedef {WatchedTurn & StartedEvent & {input: string}} WatchStartedEvent
 *   input: the player's action or the decision's question
 * @typedef {WatchedTurn & DeltaEvent} WatchDeltaEvent
 * @typedef {WatchedTurn & DecisionEvent} WatchDecisionEvent
 * @typedef {WatchedTurn & CompletedEvent} WatchCompletedEvent
 * @typedef {WatchedTurn & {type: 'ended', status: string, reason: string}} WatchEndedEvent
 *   the turn ended without completing: status "TURN_STATUS_CANCELLED", "_FAILED"
 *   or "_INTERRUPTED", and a reason safe to show
 * @typedef {WatchStartedEvent | WatchDeltaEvent | WatchDecisionEvent | WatchCompletedEvent | WatchEndedEvent} WatchEvent
 */

/**
 * @typedef {object} LoreEntry a piece of the world the narrator knows when it matters
 * @property {string} entryId assigned by the server
 * @property {string[]} keys words or phrases that bring it into a turn's prompt
 * @property {string} content what the narrator should know, in plain prose
 * @property {number} priority higher first when the lore budget cannot hold every match
 * @property {boolean} alwaysOn in every prompt, whether a key matches or not
 * @property {Date | null} updateTime when it was last written
 */
/**
 * @typedef {object} LoreEntryInput what putLoreEntry() takes
 * @property {string} [entryId] replace this entry ("" or absent: add a new one)
 * @property {string[]} [keys] 1 to 16 of 1 to 100 characters; required unless alwaysOn
 * @property {string} content required; at most 2000 characters
 * @property {number} [priority] -1000 to 1000; default 0
 * @property {boolean} [alwaysOn]
 */
/**
 * @typedef {object} LorePage
 * @property {LoreEntry[]} entries by priority (highest first), then most recently updated
 * @property {string} nextPageToken pass it back for the next page; "" on the last
 */
/**
 * @typedef {object} ContextSection one part of the prompt a turn's model request held
 * @property {string} kind "CONTEXT_SECTION_KIND_SYSTEM", "_CAMPAIGN", "_SUMMARY", "_LORE",
 *   "_HISTORY", "_SCENE" or "_INPUT"
 * @property {string} title a short label ("lore: Mirela", "turn 12")
 * @property {string} text the text as the model read it
 * @property {number} tokens its estimated tokens
 * @property {string} loreEntryId LORE: the entry's id
 * @property {string} matchedKey LORE: the key that brought it in ("" for always-on entries)
 * @property {string} turnId HISTORY: the turn it shows; SUMMARY: the last turn it covers
 */
/**
 * @typedef {object} TurnContext what the narrator knew when it spoke
 * @property {string} turnId the turn ("" for a preview of the next one)
 * @property {ContextSection[]} sections in the order the model read them
 * @property {number} totalTokens estimated tokens of all the sections
 * @property {number} budgetTokens the prompt budget they were fitted in
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
 * @property {boolean} [regenerate] replace the session's last turn with this
 *   one (a re-roll); the replaced turn stays readable, marked superseded.
 *   FAILED_PRECONDITION when the session has no turn or its last turn still runs
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
 * @property {boolean} [regenerate] as NarrateRequest.regenerate
 */
/**
 * @typedef {object} CreateSessionRequest
 * @property {Setting} setting
 * @property {PlayerCharacter} player
 * @property {number | bigint | string} [seed] uint64; 0 or absent lets the server choose
 * @property {ContentRating} [contentRating] absent: the server's default rating
 */

/**
 * @typedef {object} CallOptions
 * @property {AbortSignal} [signal] aborting it cancels the call (NarratorError CANCELLED)
 * @property {number} [deadlineMs] deadline from now (NarratorError DEADLINE_EXCEEDED)
 * @property {import('@grpc/grpc-js').Metadata} [metadata] extra request metadata (its
 *   keys replace the client's own, e.g. another x-narrator-player for one call)
 */
/**
 * @typedef {object} StreamOptions
 * @property {AbortSignal} [signal]
 * @property {number} [deadlineMs]
 * @property {import('@grpc/grpc-js').Metadata} [metadata]
 * @property {boolean} [strict] check the stream against the contract (event
 *   order, seq 1..n, or resumeAfterSeq + 1 .. n when resumed, completed.text,
 *   decision among the options) and throw a NarratorError INTERNAL on a
 *   violation; default true
 */

/**
 * @typedef {object} TlsOptions TLS to the server (the server has NARRATOR_TLS_CERT_FILE)
 * @property {Buffer | string} [rootCertificates] PEM of the CA(s) that signed the
 *   server's certificate; absent: the system's roots
 * @property {Buffer | string} [certificateChain] mTLS: this client's certificate (PEM);
 *   with privateKey
 * @property {Buffer | string} [privateKey] mTLS: this client's private key (PEM, not encrypted)
 * @property {string} [serverName] the name checked against the server's certificate,
 *   when the address names the server otherwise (an IP the certificate lacks)
 */
/**
 * @typedef {object} ClientOptions
 * @property {string} [apiKey] sent as "authorization: Bearer <apiKey>" on every call
 * @property {string} [player] the player this client acts for, sent as
 *   "x-narrator-player" on every call (per-player quotas); see withPlayer()
 * @property {boolean | TlsOptions} [tls] true: TLS trusting the system's roots;
 *   an object: TLS with these certificates; default: plaintext
 * @property {import('@grpc/grpc-js').ChannelCredentials} [credentials] your own
 *   channel credentials (then tls must be absent)
 * @property {Partial<import('@grpc/grpc-js').ChannelOptions>} [channelOptions]
 * @property {number} [deadlineMs] default deadline of Narrate, Decide and the
 *   unary calls (none by default; WatchSession only takes its own)
 * @property {string} [protoDir] folder holding narrator/v1/*.proto
 */
