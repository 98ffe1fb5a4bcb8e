// NarratorError and the decoding of google.rpc.Status error details.
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';

/** Trailer carrying a serialized google.rpc.Status. */
export const STATUS_DETAILS_KEY = 'grpc-status-details-bin';

const BAD_REQUEST = 'google.rpc.BadRequest';
const RETRY_INFO = 'google.rpc.RetryInfo';
const QUOTA_FAILURE = 'google.rpc.QuotaFailure';

// Hand-written definitions of the google.rpc messages the service sends (and
// the two google.protobuf messages they use). Only field numbers and
// types matter on the wire; names are camelCase to match the rest of the API.
const rpcRoot = protobuf.Root.fromJSON({
  nested: {
    google: {
      nested: {
        protobuf: {
          nested: {
            Any: {
              fields: {
                typeUrl: { type: 'string', id: 1 },
                value: { type: 'bytes', id: 2 },
              },
            },
            Duration: {
              fields: {
                seconds: { type: 'int64', id: 1 },
                nanos: { type: 'int32', id: 2 },
              },
            },
          },
        },
        rpc: {
          nested: {
            Status: {
              fields: {
                code: { type: 'int32', id: 1 },
                message: { type: 'string', id: 2 },
                details: { rule: 'repeated', type: 'google.protobuf.Any', id: 3 },
              },
            },
            BadRequest: {
              fields: {
                fieldViolations: { rule: 'repeated', type: 'FieldViolation', id: 1 },
              },
              nested: {
                FieldViolation: {
                  fields: {
                    field: { type: 'string', id: 1 },
                    description: { type: 'string', id: 2 },
                    reason: { type: 'string', id: 3 },
                  },
                },
              },
            },
            RetryInfo: {
              fields: {
                retryDelay: { type: 'google.protobuf.Duration', id: 1 },
              },
            },
            QuotaFailure: {
              fields: {
                violations: { rule: 'repeated', type: 'Violation', id: 1 },
              },
              nested: {
                Violation: {
                  fields: {
                    subject: { type: 'string', id: 1 },
                    description: { type: 'string', id: 2 },
                    quotaId: { type: 'string', id: 5 },
                    quotaValue: { type: 'int64', id: 7 },
                  },
                },
              },
            },
          },
        },
      },
    },
  },
});

/** The hand-written protobufjs types, exported for tests and tools. */
export const rpcTypes = Object.freeze({
  Any: rpcRoot.lookupType('google.protobuf.Any'),
  Duration: rpcRoot.lookupType('google.protobuf.Duration'),
  Status: rpcRoot.lookupType('google.rpc.Status'),
  BadRequest: rpcRoot.lookupType('google.rpc.BadRequest'),
  RetryInfo: rpcRoot.lookupType('google.rpc.RetryInfo'),
  QuotaFailure: rpcRoot.lookupType('google.rpc.QuotaFailure'),
});

/** gRPC status number -> name ("NOT_FOUND"). */
const STATUS_NAMES = /** @type {Record<number, string>} */ (
  Object.fromEntries(
    Object.entries(grpc.status)
      .filter(([, v]) => typeof v === 'number')
      .map(([k, v]) => [v, k]),
  )
);

/**
 * @param {number} code a gRPC status number
 * @returns {string} its name, e.g. "INVALID_ARGUMENT"
 */
export function statusName(code) {
  return STATUS_NAMES[code] ?? `UNKNOWN_STATUS_${code}`;
}

/**
 * @typedef {object} FieldViolation
 * @property {string} field path of the offending request field, e.g. "action"
 * @property {string} description why it is invalid
 */

/**
 * @typedef {object} QuotaViolation a quota the caller is over (google.rpc.QuotaFailure)
 * @property {string} limit which limit: "requests_per_minute", "tokens_per_minute",
 *   "tokens_per_day" or "player_requests_per_minute" (the violation's quota_id)
 * @property {string} subject whose: "key:<key id>", "player:<name>" or "session:<id>"
 * @property {number} value the limit's value (quota_value)
 * @property {string} description a sentence saying it
 */

/**
 * @typedef {object} StatusDetail
 * @property {string} typeUrl e.g. "type.googleapis.com/google.rpc.BadRequest"
 * @property {any} value decoded message for BadRequest, RetryInfo and
 *   QuotaFailure, raw bytes otherwise
 */

/**
 * @typedef {object} DecodedStatus
 * @property {number} code
 * @property {string} message
 * @property {StatusDetail[]} details
 * @property {FieldViolation[]} fieldViolations
 * @property {QuotaViolation[]} quotaViolations
 * @property {number | null} retryAfterMs
 */

/** @param {any} v an int64 as number, string or Long */
function toNumber(v) {
  if (v == null) return 0;
  if (typeof v === 'number') return v;
  if (typeof v.toNumber === 'function') return v.toNumber();
  return Number(v);
}

/**
 * Decodes a serialized google.rpc.Status (the grpc-status-details-bin trailer)
 * with its BadRequest field violations, QuotaFailure violations and RetryInfo
 * delay.
 *
 * @param {Uint8Array} bytes
 * @returns {DecodedStatus}
 */
export function decodeStatusDetails(bytes) {
  const status = /** @type {any} */ (rpcTypes.Status.decode(bytes));
  /** @type {FieldViolation[]} */
  const fieldViolations = [];
  /** @type {QuotaViolation[]} */
  const quotaViolations = [];
  /** @type {number | null} */
  let retryAfterMs = null;
  /** @type {StatusDetail[]} */
  const details = [];
  for (const any of status.details ?? []) {
    const typeUrl = String(any.typeUrl ?? '');
    const typeName = typeUrl.slice(typeUrl.lastIndexOf('/') + 1);
    /** @type {any} */
    let value = Buffer.from(any.value ?? []);
    try {
      if (typeName === BAD_REQUEST) {
        value = rpcTypes.BadRequest.toObject(rpcTypes.BadRequest.decode(value), { defaults: true });
        for (const v of value.fieldViolations ?? []) {
          fieldViolations.push({ field: v.field, description: v.description });
        }
      } else if (typeName === RETRY_INFO) {
        value = rpcTypes.RetryInfo.decode(value);
        const d = value.retryDelay;
        retryAfterMs = d ? toNumber(d.seconds) * 1000 + Math.round(toNumber(d.nanos) / 1e6) : 0;
        value = { retryDelay: { seconds: d ? toNumber(d.seconds) : 0, nanos: d ? toNumber(d.nanos) : 0 } };
      } else if (typeName === QUOTA_FAILURE) {
        const failure = /** @type {any} */ (rpcTypes.QuotaFailure.decode(value));
        const violations = (failure.violations ?? []).map((/** @type {any} */ v) => ({
          limit: v.quotaId ?? '',
          subject: v.subject ?? '',
          value: toNumber(v.quotaValue),
          description: v.description ?? '',
        }));
        quotaViolations.push(...violations);
        value = { violations };
      }
    } catch {
      // A detail that does not decode is kept as raw bytes.
    }
    details.push({ typeUrl, value });
  }
  return {
    code: status.code ?? 0,
    message: status.message ?? '',
    details,
    fieldViolations,
    quotaViolations,
    retryAfterMs,
  };
}

/**
 * An error of a Narrator call: the gRPC status with its google.rpc details.
 */
export class NarratorError extends Error {
  /**
   * @param {string} message the server's status message
   * @param {object} [init]
   * @param {number} [init.grpcCode] gRPC status number (defaults to UNKNOWN)
   * @param {FieldViolation[]} [init.fieldViolations]
   * @param {QuotaViolation[]} [init.quotaViolations]
   * @param {number | null} [init.retryAfterMs]
   * @param {StatusDetail[]} [init.details]
   * @param {grpc.Metadata} [init.metadata] trailing metadata, when the server sent any
   * @param {unknown} [init.cause]
   */
  constructor(message, init = {}) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'NarratorError';
    /** gRPC status number, e.g. 3. */
    this.grpcCode = init.grpcCode ?? grpc.status.UNKNOWN;
    /** gRPC status name, e.g. "INVALID_ARGUMENT". */
    this.code = statusName(this.grpcCode);
    /** @type {FieldViolation[]} from google.rpc.BadRequest (INVALID_ARGUMENT) */
    this.fieldViolations = init.fieldViolations ?? [];
    /** @type {QuotaViolation[]} from google.rpc.QuotaFailure (RESOURCE_EXHAUSTED for a caller over a quota) */
    this.quotaViolations = init.quotaViolations ?? [];
    /** @type {number | null} from google.rpc.RetryInfo (RESOURCE_EXHAUSTED, UNAVAILABLE); null when absent */
    this.retryAfterMs = init.retryAfterMs ?? null;
    /** @type {StatusDetail[]} every google.protobuf.Any of the status */
    this.details = init.details ?? [];
    /** @type {grpc.Metadata | undefined} */
    this.metadata = init.metadata;
  }

  /**
   * Wraps an error thrown by @grpc/grpc-js (a ServiceError), decoding the
   * google.rpc.Status from its trailing metadata.
   *
   * @param {any} err
   * @returns {NarratorError}
   */
  static fromGrpcError(err) {
    if (err instanceof NarratorError) return err;
    if (!err || typeof err.code !== 'number') {
      return new NarratorError(String(err?.message ?? err), { grpcCode: grpc.status.UNKNOWN, cause: err });
    }
    /** @type {grpc.Metadata | undefined} */
    const metadata = err.metadata instanceof grpc.Metadata ? err.metadata : undefined;
    let message = typeof err.details === 'string' ? err.details : String(err.message ?? '');
    /** @type {Partial<DecodedStatus>} */
    let decoded = {};
    const raw = metadata?.get(STATUS_DETAILS_KEY)?.[0];
    if (raw && typeof raw !== 'string') {
      try {
        decoded = decodeStatusDetails(raw);
        if (!message && decoded.message) message = decoded.message;
      } catch {
        // Undecodable details: keep the plain status.
      }
    }
    return new NarratorError(message, {
      grpcCode: err.code,
      fieldViolations: decoded.fieldViolations,
      quotaViolations: decoded.quotaViolations,
      retryAfterMs: decoded.retryAfterMs,
      details: decoded.details,
      metadata,
      cause: err,
    });
  }
}
