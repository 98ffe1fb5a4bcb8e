// Test support: a server of a NEWER contract than the client's. It is built
// (with grpc-js) from a copy of protos/ that adds what a future version might:
// a new event case in every streamed response's oneof (`hint`), a new turn
// status and a new recovery reason. Its handlers are the test's.
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { DEFAULT_PROTO_DIR, LOADER_OPTIONS } from '../src/proto.js';

/** Numbers of the additions, beyond anything the current contract uses. */
export const NEWER = Object.freeze({ hintField: 15, turnStatus: 9, recoveryReason: 9 });

/**
 * Replaces `anchor` in `text`, failing loudly when it is missing (so a
 * change of the real protos cannot make the newer contract silently equal).
 *
 * @param {string} text
 * @param {string} anchor
 * @param {string} replacement
 */
function patch(text, anchor, replacement) {
  if (!text.includes(anchor)) throw new Error(`newer contract: "${anchor}" not found in the protos`);
  return text.split(anchor).join(replacement);
}

/**
 * Writes the newer contract into a temporary folder.
 *
 * @returns {Promise<string>} the folder holding narrator/v1/*.proto
 */
async function newerProtos() {
  const dir = await mkdtemp(path.join(tmpdir(), 'narrator-newer-protos-'));
  await cp(DEFAULT_PROTO_DIR, dir, { recursive: true });
  const v1 = path.join(dir, 'narrator', 'v1');
  const edit = async (/** @type {string} */ file, /** @type {(s: string) => string} */ change) => {
    const at = path.join(v1, file);
    await writeFile(at, change(await readFile(at, 'utf8')));
  };
  const hint = `    TurnHint hint = ${NEWER.hintField};\n  }`;
  await edit('narrator_service.proto', (s) => {
    let out = patch(s, '    TurnCompleted completed = 3;\n  }', `    TurnCompleted completed = 3;\n${hint}`);
    out = patch(out, '    TurnCompleted completed = 4;\n  }', `    TurnCompleted completed = 4;\n${hint}`);
    out = patch(out, '    TurnEnded ended = 7;\n  }', `    TurnEnded ended = 7;\n${hint}`);
    return `${out}\n// A newer event: a hint for the game's UI.\nmessage TurnHint {\n  string text = 1;\n}\n`;
  });
  await edit('session.proto', (s) =>
    patch(s, '  TURN_STATUS_INTERRUPTED = 5;', `  TURN_STATUS_INTERRUPTED = 5;\n  TURN_STATUS_ARCHIVED = ${NEWER.turnStatus};`),
  );
  await edit('turn.proto', (s) =>
    patch(s, '  RECOVERY_REASON_LAST_CHANCE = 4;', `  RECOVERY_REASON_LAST_CHANCE = 4;\n  RECOVERY_REASON_MIGRATED = ${NEWER.recoveryReason};`),
  );
  return dir;
}

/**
 * @typedef {object} NewerServer
 * @property {string} address
 * @property {() => Promise<void>} stop
 */

/**
 * Starts a grpc-js server of the newer contract on a free port.
 *
 * @param {Record<string, Function>} handlers NarratorService methods (camelCase)
 * @returns {Promise<NewerServer>}
 */
export async function startNewerServer(handlers) {
  const dir = await newerProtos();
  try {
    const definition = protoLoader.loadSync('narrator/v1/narrator_service.proto', { ...LOADER_OPTIONS, includeDirs: [dir] });
    const pkg = /** @type {any} */ (grpc.loadPackageDefinition(definition));
    const server = new grpc.Server();
    server.addService(pkg.narrator.v1.NarratorService.service, /** @type {any} */ (handlers));
    const port = await new Promise((resolve, reject) => {
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p)));
    });
    return {
      address: `127.0.0.1:${port}`,
      stop: () => new Promise((resolve) => server.tryShutdown(() => resolve())),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
