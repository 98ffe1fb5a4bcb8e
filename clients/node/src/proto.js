// Loads the narrator.v1 contract from the repository's .proto files at run
// time (nothing is generated or committed).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

/** Default folder holding narrator/v1/*.proto: <repo>/protos. */
export const DEFAULT_PROTO_DIR = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  '..',
  'protos',
);

/** Options given to proto-loader; the client's mapping code relies on them. */
export const LOADER_OPTIONS = Object.freeze({
  keepCase: false, // session_id -> sessionId
  longs: String, // uint64 seed -> decimal string (no precision loss)
  enums: String, // enum values -> their names ("TURN_STATUS_CANCELLED")
  defaults: true, // unset scalars -> their default value, unset messages -> null
  oneofs: true, // msg.event -> name of the oneof field that is set
});

/** @type {Map<string, any>} */
const cache = new Map();

/**
 * Returns the NarratorService client constructor, loading the protos once
 * per folder.
 *
 * @param {string} [protoDir] folder holding narrator/v1/*.proto; defaults to
 *   env NARRATOR_PROTO_DIR, then <repo>/protos.
 * @returns {typeof grpc.Client & { service: grpc.ServiceDefinition }}
 */
export function loadNarratorService(protoDir) {
  const dir = path.resolve(protoDir || process.env.NARRATOR_PROTO_DIR || DEFAULT_PROTO_DIR);
  let ctor = cache.get(dir);
  if (!ctor) {
    const entry = path.join(dir, 'narrator', 'v1', 'narrator_service.proto');
    if (!existsSync(entry)) {
      throw new Error(`narrator protos not found: ${entry} does not exist (set protoDir or NARRATOR_PROTO_DIR)`);
    }
    const definition = protoLoader.loadSync('narrator/v1/narrator_service.proto', {
      ...LOADER_OPTIONS,
      includeDirs: [dir],
    });
    const pkg = /** @type {any} */ (grpc.loadPackageDefinition(definition));
    ctor = pkg.narrator.v1.NarratorService;
    cache.set(dir, ctor);
  }
  return ctor;
}
