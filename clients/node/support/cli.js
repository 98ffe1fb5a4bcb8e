// Test support: runs the example CLI in a child process, with no NARRATOR_*
// variable of this process (only those the test gives).
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The example CLI (examples/cli.js). */
export const CLI = fileURLToPath(new URL('../examples/cli.js', import.meta.url));

/**
 * @param {string[]} args
 * @param {Record<string, string>} [env]
 * @returns {Promise<{code: number, stdout: string, stderr: string}>}
 */
export function runCli(args, env = {}) {
  return new Promise((resolve) => {
    /** @type {Record<string, string | undefined>} */
    const base = { ...process.env };
    for (const k of Object.keys(base)) if (k.startsWith('NARRATOR_')) delete base[k];
    execFile(process.execPath, [CLI, ...args], { env: { ...base, ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}
