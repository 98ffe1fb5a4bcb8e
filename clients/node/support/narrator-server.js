// Test support: starts a real Narrator server (the Python service from this
// repository) on a free port with a fresh data directory.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

/** The repository's root (clients/node/support -> ../../..). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** The Python interpreter of the repository's venv (override: NARRATOR_PYTHON). */
export const PYTHON = process.env.NARRATOR_PYTHON || path.join(REPO_ROOT, '.venv', 'bin', 'python');

const READY = /narrator listening on (\S+):(\d+)/;

/**
 * @typedef {object} RunningServer
 * @property {string} address host:port the server listens on
 * @property {string} dataDir its fresh data directory
 * @property {() => string} logs what it printed so far (stdout + stderr)
 * @property {() => Promise<void>} stop SIGTERM, wait for exit, remove the data directory
 */

/**
 * Starts `python -m narrator_server` with NARRATOR_PORT=0 and waits for its
 * "narrator listening on HOST:PORT" line. No OPENAI_* variable is passed, so
 * the built-in offline narrator answers.
 *
 * @param {{paceMs?: number, env?: Record<string, string>, startTimeoutMs?: number}} [options]
 * @returns {Promise<RunningServer>}
 */
export async function startServer(options = {}) {
  if (!existsSync(PYTHON)) {
    throw new Error(`${PYTHON} not found: create the repository's venv first (make pytest, or python3 -m venv .venv && .venv/bin/pip install -e .)`);
  }
  const dataDir = await mkdtemp(path.join(tmpdir(), 'narrator-node-test-'));
  /** @type {Record<string, string>} */
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || k.startsWith('OPENAI_') || k.startsWith('NARRATOR_')) continue;
    env[k] = v;
  }
  Object.assign(env, {
    NARRATOR_PORT: '0',
    NARRATOR_HOST: '127.0.0.1',
    NARRATOR_DATA_DIR: dataDir,
    NARRATOR_OFFLINE_PACE_MS: String(options.paceMs ?? 0),
    PYTHONUNBUFFERED: '1',
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
