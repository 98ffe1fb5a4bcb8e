// Node.js client of the Narrator service (narrator.v1).
export { NarratorClient, DEFAULT_ADDRESS } from './client.js';
export { StreamChecker, WatchChecker } from './checker.js';
export { NarratorError, decodeStatusDetails, statusName, rpcTypes, STATUS_DETAILS_KEY } from './errors.js';
export { PLAYER_METADATA_KEY } from './connection.js';
export { collectTurn } from './collect.js';
export { loadNarratorService, DEFAULT_PROTO_DIR } from './proto.js';
