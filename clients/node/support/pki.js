// Test support: certificates the TLS tests make for themselves with the
// openssl command: a CA, a server certificate (localhost, narrator.internal,
// 127.0.0.1), a client certificate from the same CA, and a client
// certificate from another CA, as PEM files.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * @typedef {object} Pki
 * @property {string} dir the folder holding the files
 * @property {string} ca path of the CA certificate (NARRATOR_TLS_CLIENT_CA_FILE, rootCertificates)
 * @property {string} serverCert
 * @property {string} serverKey
 * @property {string} clientCert signed by the CA
 * @property {string} clientKey
 * @property {string} strangerCert a client certificate from another CA
 * @property {string} strangerKey
 * @property {string} strangerCa that other CA
 * @property {(file: string) => Promise<Buffer>} read
 * @property {() => Promise<void>} remove
 */

/**
 * @param {string} dir
 * @param {string} name
 * @param {string} subject
 */
async function selfSignedCa(dir, name, subject) {
  await run('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', path.join(dir, `${name}.key`), '-out', path.join(dir, `${name}.pem`),
    '-days', '2', '-subj', `/CN=${subject}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
}

/**
 * @param {string} dir
 * @param {string} name
 * @param {string} ca
 * @param {string} subject
 * @param {string} extensions openssl extension lines
 */
async function leaf(dir, name, ca, subject, extensions) {
  const file = (/** @type {string} */ ext) => path.join(dir, `${name}.${ext}`);
  await writeFile(file('ext'), extensions);
  await run('openssl', [
    'req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', file('key'), '-out', file('csr'), '-subj', `/CN=${subject}`,
  ]);
  await run('openssl', [
    'x509', '-req', '-in', file('csr'), '-CA', path.join(dir, `${ca}.pem`), '-CAkey', path.join(dir, `${ca}.key`),
    '-set_serial', `0x${randomBytes(8).toString('hex')}`, '-days', '2', '-sha256', '-extfile', file('ext'), '-out', file('pem'),
  ]);
}

/**
 * Makes a fresh PKI in a temporary folder (remove() deletes it).
 *
 * @returns {Promise<Pki>}
 */
export async function makePki() {
  const dir = await mkdtemp(path.join(tmpdir(), 'narrator-node-pki-'));
  await selfSignedCa(dir, 'ca', 'narrator test CA');
  await selfSignedCa(dir, 'other-ca', 'someone else CA');
  await leaf(dir, 'server', 'ca', 'narrator',
    'basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,DNS:narrator.internal,IP:127.0.0.1\n');
  const client = 'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n';
  await leaf(dir, 'client', 'ca', 'game-backend', client);
  await leaf(dir, 'stranger', 'other-ca', 'game-backend', client);
  const at = (/** @type {string} */ f) => path.join(dir, f);
  return {
    dir,
    ca: at('ca.pem'),
    serverCert: at('server.pem'),
    serverKey: at('server.key'),
    clientCert: at('client.pem'),
    clientKey: at('client.key'),
    strangerCert: at('stranger.pem'),
    strangerKey: at('stranger.key'),
    strangerCa: at('other-ca.pem'),
    read: (file) => readFile(file),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
