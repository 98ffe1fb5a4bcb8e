// Test support: starts a real Narrator server (the Python service from this
// repository) on a free port with a fresh data directory.
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** The repository's root (clients/node/support -> ../../..). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** The Python interpreter of the repository's venv (override: NARRATOR_PYTHON). */
export const PYTHON = process.env.NARRATOR_PYTHON || path.join(REPO_ROOT, '.venv', 'bin', 'python');

const READY = /narrator listening on (\S+):(\d+)/;

/**
 * @typedef {object} KeySpec an API key to create with `narrator keys create`
 * @property {string} name
 * @property {string} [tenant] default: the name
 * @property {number} [requestsPerMinute]
 * @property {number} [tokensPerMinute]
 * @property {number} [tokensPerDay]
 * @property {number} [playerRequestsPerMinute]
 */

/**
 * The environment of the server and of its CLI: this process's, without any
 * NARRATOR_* or OPENAI_* variable, plus `extra`.
 *
 * @param {string} dataDir
 * @param {Record<string, string>} [extra]
 * @returns {Record<string, string>}
 */
function serverEnv(dataDir, extra = {}) {
  /** @type {Record<string, string>} */
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || k.startsWith('OPENAI_') || k.startsWith('NARRATOR_')) continue;
    env[k] = v;
  }
  return { ...env, NARRATOR_DATA_DIR: dataDir, PYTHONUNBUFFERED: '1', ...extra };
}

/**
 * Runs `python -m narrator_server keys ARGS...` against a data directory (the
 * store a server on that directory uses, running or not).
 *
 * @param {string} dataDir
 * @param {string[]} args e.g. ['revoke', 'studio']
 * @returns {Promise<string>} its stdout
 */
export async function keysCli(dataDir, args) {
  const { stdout } = await execFileAsync(PYTHON, ['-m', 'narrator_server', 'keys', ...args], {
    cwd: REPO_ROOT,
    env: serverEnv(dataDir),
  });
  return stdout;
}

/**
 * Creates an API key with the CLI; returns the key (the last line it prints).
 *
 * @param {string} dataDir
 * @param {KeySpec} spec
 * @returns {Promise<string>}
 */
export async function createKey(dataDir, spec) {
  const flags = [];
  if (spec.tenant) flags.push('--tenant', spec.tenant);
  if (spec.requestsPerMinute) flags.push('--requests-per-minute', String(spec.requestsPerMinute));
  if (spec.tokensPerMinute) flags.push('--tokens-per-minute', String(spec.tokensPerMinute));
  if (spec.tokensPerDay) flags.push('--tokens-per-day', String(spec.tokensPerDay));
  if (spec.playerRequestsPerMinute) flags.push('--player-requests-per-minute', String(spec.playerRequestsPerMinute));
  const out = await keysCli(dataDir, ['create', spec.name, ...flags]);
  const key = out.trimEnd().split('\n').at(-1) ?? '';
  if (!key.startsWith('nrk_')) throw new Error(`keys create printed no key:\n${out}`);
  return key;
}

/**
 * @typedef {object} RunningServer
 * @property {string} address host:port the server listens on
 * @property {string} dataDir its fresh data directory
 * @property {Record<string, string>} keys the keys made at start (options.keys), by name
 * @property {() => string} logs what it printed so far (stdout + stderr)
 * @property {() => Promise<void>} stop SIGTERM, wait for exit, remove the data directory
 */

/**
 * @typedef {object} ServerOptions
 * @property {number} [paceMs] NARRATOR_OFFLINE_PACE_MS (default 0)
 * @property {Record<string, string>} [env] extra server environment
 * @property {KeySpec[]} [keys] API keys created (with the CLI) before the
 *   server starts: the server then requires a key on every call
 * @property {number} [startTimeoutMs]
 */

/**
 * Starts `python -m narrator_server` with NARRATOR_PORT=0 and waits for its
 * "narrator listening on HOST:PORT" line. No OPENAI_* variable is passed, so
 * the built-in offline narrator answers; metrics are off.
 *
 * @param {ServerOptions} [options]
 * @returns {Promise<RunningServer>}
 */
export async function startServer(options = {}) {
  if (!existsSync(PYTHON)) {
    throw new Error(`${PYTHON} not found: create the repository's venv first (make pytest, or python3 -m venv .venv && .venv/bin/pip install -e .)`);
  }
  const dataDir = await mkdtemp(path.join(tmpdir(), 'narrator-node-test-'));
  /** @type {Record<string, string>} */
  const keys = {};
  try {
    // The first one creates the database; the others run in parallel (each
    // CLI run costs a Python start).
    const [first, ...rest] = options.keys ?? [];
    if (first) keys[first.name] = await createKey(dataDir, first);
    const made = await Promise.all(rest.map((spec) => createKey(dataDir, spec)));
    rest.forEach((spec, i) => {
      keys[spec.name] = made[i];
    });
  } catch (err) {
    await rm(dataDir, { recursive: true, force: true });
    throw err;
  }
  const env = serverEnv(dataDir, {
    NARRATOR_PORT: '0',
    NARRATOR_HOST: '127.0.0.1',
    NARRATOR_METRICS_PORT: '-1',
    NARRATOR_OFFLINE_PACE_MS: String(options.paceMs ?? 0),
    ...(options.env ?? {}),
  });

  const child = spawn(PYTHON, ['-m', 'narrator_server'], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (/** @type {string} */ line) => {
    output += line + '\n';
    if (output.length > 200_000) output = output.slice(-100_000);
  };
  /** @type {Promise<number | null>} */
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? (signal ? -1 : null))));
  let running = true;
  exited.then(() => {
    running = false;
  });
  createInterface({ input: child.stderr }).on('line', keep);

  /** @type {string} */
  const address = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`narrator server did not start within ${options.startTimeoutMs ?? 60000} ms:\n${output}`));
    }, options.startTimeoutMs ?? 60_000);
    createInterface({ input: child.stdout }).on('line', (line) => {
      keep(line);
      const m = READY.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve(`${m[1]}:${m[2]}`);
      }
    });
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`narrator server exited (${code}) before listening:\n${output}`));
    });
  }).catch(async (err) => {
    if (running) child.kill('SIGKILL');
    await rm(dataDir, { recursive: true, force: true });
    throw err;
  });

  return {
    address,
    dataDir,
    keys,
    logs: () => output,
    async stop() {
      if (running) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => {
          if (running) child.kill('SIGKILL');
        }, 15_000);
        await exited;
        clearTimeout(timer);
      }
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
