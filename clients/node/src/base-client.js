// ClientBase: the channel of a NarratorClient, the identity it sends with
// every call, and how it makes calls. NarratorClient (client.js) adds the RPCs.
import * as grpc from '@grpc/grpc-js';
import { loadNarratorService } from './proto.js';
import { NarratorError } from './errors.js';
import { streamCall, unaryCall } from './calls.js';
import { callMetadata, channelSecurity, identityMetadata } from './connection.js';

/**
 * @typedef {import('./types.js').ClientOptions} ClientOptions
 * @typedef {import('./types.js').CallOptions} CallOptions
 * @typedef {import('./types.js').StreamOptions} StreamOptions
 * @typedef {import('./calls.js').Checker} Checker
 * @typedef {import('./calls.js').CallSetup} CallSetup
 */

export const DEFAULT_ADDRESS = '127.0.0.1:50051';

/** The largest response the client accepts by default (channelOptions may change it). */
export const MAX_RECEIVE_BYTES = 9 * 1024 * 1024;

/** A channel to the Narrator service and the identity sent with each call. */
export class ClientBase {
  /**
   * @param {string} [address] host:port; default env NARRATOR_ADDRESS, then 127.0.0.1:50051
   * @param {ClientOptions} [options]
   */
  constructor(address, options = {}) {
    const Service = loadNarratorService(options.protoDir);
    this.address = address || process.env.NARRATOR_ADDRESS || DEFAULT_ADDRESS;
    const security = channelSecurity(options);
    /** @protected */
    this.defaultDeadlineMs = options.deadlineMs;
    /** @protected */
    this.apiKey = options.apiKey;
    /** The player this client acts for ("" when none). */
    this.player = options.player ?? '';
    /** @protected */
    this.baseMetadata = identityMetadata(this.apiKey, this.player);
    /** @protected */
    this.ownsChannel = true;
    /** @protected @type {any} */
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
   * @returns {this}
   */
  withPlayer(player) {
    const view = /** @type {this} */ (Object.create(Object.getPrototypeOf(this)));
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
   * @protected
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
   * @protected
   * @param {string} method
   * @param {object} request
   * @param {CallOptions} [opts]
   * @returns {Promise<any>}
   */
  unary(method, request, opts = {}) {
    return unaryCall(this.stub, method, request, this.setup(opts));
  }

  /**
   * @protected
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
}
