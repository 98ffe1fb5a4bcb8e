// The two shapes of call the client makes: unary (a promise) and server
// streams (an async generator of events), with cancellation, deadlines and
// errors as NarratorError. Also the checks of a request's own fields.
import * as grpc from '@grpc/grpc-js';
import { NarratorError } from './errors.js';

/**
 * @typedef {{check: (ev: any) => void, end: () => void}} Checker
 * @typedef {object} CallSetup what every call needs besides its request
 * @property {grpc.Metadata} metadata
 * @property {grpc.CallOptions} callOptions
 * @property {AbortSignal} [signal]
 */

/**
 * The request's turn_id and resume_after_seq, with their proto defaults.
 *
 * @param {{turnId?: string, resumeAfterSeq?: number}} request
 * @returns {{turnId: string, resumeAfterSeq: number}}
 */
export function resumeFields(request) {
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
export async function* failingStream(err) {
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
 * Calls a unary method of the stub.
 *
 * @param {any} stub
 * @param {string} method
 * @param {object} request
 * @param {CallSetup} setup
 * @returns {Promise<any>} the response message
 */
export function unaryCall(stub, method, request, setup) {
  const { signal } = setup;
  if (signal?.aborted) return Promise.reject(abortedError(signal));
  return new Promise((resolve, reject) => {
    const onAbort = () => call.cancel();
    const call = stub[method](
      request,
      setup.metadata,
      setup.callOptions,
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
 * Calls a server-streaming method of the stub when iteration starts, and
 * yields its messages as events: `toEventOf` maps each one (null: an event of
 * a newer contract, skipped) and, when `checker` is given, each event is
 * checked against the contract.
 *
 * @param {any} stub
 * @param {string} method
 * @param {object} request
 * @param {CallSetup} setup
 * @param {(msg: any) => any} toEventOf
 * @param {Checker | null} checker
 * @returns {AsyncGenerator<any, void, undefined>}
 */
export async function* streamCall(stub, method, request, setup, toEventOf, checker) {
  const { signal } = setup;
  if (signal?.aborted) throw abortedError(signal);
  /** @type {grpc.ClientReadableStream<any>} */
  const call = stub[method](request, setup.metadata, setup.callOptions);
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
        if (ev === null) continue;
        checker?.check(ev);
        yield ev;
      }
    } catch (err) {
      throw NarratorError.fromGrpcError(err);
    }
    checker?.end();
    finished = true;
  } finally {
    signal?.removeEventListener('abort', onAbort);
    // Early exit (break, return, throw, protocol error): cancel the RPC so
    // the server stops narrating and stores the turn as cancelled.
    if (!finished) call.cancel();
  }
}
