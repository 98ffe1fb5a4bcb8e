// Test support: one real server (and a client of it) per describe block.
import { after, before } from 'node:test';
import { NarratorClient } from '../src/index.js';
import { startServer } from './narrator-server.js';

/**
 * @typedef {import('../src/types.js').ClientOptions} ClientOptions
 * @typedef {import('./narrator-server.js').RunningServer} RunningServer
 */

/**
 * @typedef {import('./narrator-server.js').ServerOptions & {
 *   client?: ClientOptions | ((server: RunningServer) => ClientOptions) | false
 * }} UseServerOptions client: options of the client made in before (default
 *   none), or a function of the started server giving them (e.g. to use one
 *   of its keys); false: no client
 */

/**
 * @typedef {object} ServerContext
 * @property {RunningServer} server set in before
 * @property {NarratorClient} client set in before (unless options.client is false)
 */

/**
 * Registers a before hook that starts a server (startServer) and makes a
 * client of it, and an after hook that closes the client and stops the
 * server. Call it at the top of a describe block; read `server` and `client`
 * from the returned object inside tests and later hooks.
 *
 * @param {UseServerOptions} [options]
 * @returns {ServerContext}
 */
export function useServer(options = {}) {
  const ctx = /** @type {ServerContext} */ (/** @type {unknown} */ ({ server: undefined, client: undefined }));
  const { client: clientOptions = {}, ...serverOptions } = options;

  before(async () => {
    ctx.server = await startServer(serverOptions);
    if (clientOptions !== false) {
      const opts = typeof clientOptions === 'function' ? clientOptions(ctx.server) : clientOptions;
      ctx.client = new NarratorClient(ctx.server.address, opts);
    }
  });

  after(async () => {
    ctx.client?.close();
    await ctx.server?.stop();
  });

  return ctx;
}
