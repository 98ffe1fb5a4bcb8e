// How the client reaches the server and says who it is: channel credentials
// (plaintext, TLS, mTLS) and the metadata sent on every call.
import * as grpc from '@grpc/grpc-js';

/** The metadata key naming the player a game backend acts for. */
export const PLAYER_METADATA_KEY = 'x-narrator-player';

/**
 * @typedef {import('./types.js').ClientOptions} ClientOptions
 * @typedef {import('./types.js').TlsOptions} TlsOptions
 */

/**
 * @param {Buffer | string | undefined} pem
 * @returns {Buffer | null}
 */
function pemBytes(pem) {
  if (pem === undefined || pem === null) return null;
  return Buffer.isBuffer(pem) ? pem : Buffer.from(pem, 'utf8');
}

/**
 * The channel credentials and extra channel options the client options ask for.
 *
 * @param {ClientOptions} options
 * @returns {{credentials: grpc.ChannelCredentials, channelOptions: Partial<grpc.ChannelOptions>}}
 */
export function channelSecurity(options) {
  const { tls, credentials } = options;
  if (credentials && tls) throw new TypeError('pass either credentials or tls, not both');
  if (credentials) return { credentials, channelOptions: {} };
  if (!tls) return { credentials: grpc.credentials.createInsecure(), channelOptions: {} };
  /** @type {TlsOptions} */
  const t = tls === true ? {} : tls;
  const chain = pemBytes(t.certificateChain);
  const key = pemBytes(t.privateKey);
  if ((chain === null) !== (key === null)) {
    throw new TypeError('tls.certificateChain and tls.privateKey go together (mTLS)');
  }
  return {
    credentials: grpc.credentials.createSsl(pemBytes(t.rootCertificates), key, chain),
    channelOptions: t.serverName
      ? { 'grpc.ssl_target_name_override': t.serverName, 'grpc.default_authority': t.serverName }
      : {},
  };
}

/**
 * The metadata of every call: the API key and the player.
 *
 * @param {string | undefined} apiKey
 * @param {string | undefined} player
 * @returns {grpc.Metadata}
 */
export function identityMetadata(apiKey, player) {
  const metadata = new grpc.Metadata();
  if (apiKey) {
    if (!/^[\x21-\x7e]+$/.test(apiKey)) throw new TypeError('apiKey must be printable ASCII without spaces');
    metadata.set('authorization', `Bearer ${apiKey}`);
  }
  if (player) {
    if (!/^[\x20-\x7e]+$/.test(player)) throw new TypeError('player must be printable ASCII (it travels as gRPC metadata)');
    metadata.set(PLAYER_METADATA_KEY, player);
  }
  return metadata;
}

/**
 * The client's metadata with a call's own on top (a key of the call's replaces
 * the client's).
 *
 * @param {grpc.Metadata} base
 * @param {grpc.Metadata | undefined} extra
 * @returns {grpc.Metadata}
 */
export function callMetadata(base, extra) {
  const metadata = base.clone();
  if (!extra) return metadata;
  for (const [key, values] of Object.entries(extra.toJSON())) {
    metadata.remove(key);
    for (const value of values) metadata.add(key, value);
  }
  return metadata;
}
