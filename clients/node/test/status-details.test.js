// Decoding of google.rpc.Status details, without a server: the bytes are made
// with the hand-written definitions and, as a cross-check, with Python's
// googleapis-common-protos from the repository's venv.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { NarratorError, decodeStatusDetails, rpcTypes, STATUS_DETAILS_KEY } from '../src/index.js';
import { PYTHON } from '../support/narrator-server.js';

/**
 * @param {any} type
 * @param {object} value
 */
function any(type, value) {
  return { typeUrl: `type.googleapis.com/${type.fullName.slice(1)}`, value: type.encode(type.fromObject(value)).finish() };
}

/**
 * @param {number} code
 * @param {string} details
 * @param {Uint8Array} statusBytes
 */
function serviceError(code, details, statusBytes) {
  const metadata = new grpc.Metadata();
  metadata.set(STATUS_DETAILS_KEY, Buffer.from(statusBytes));
  return Object.assign(new Error(`${code} ${details}`), { code, details, metadata });
}

test('BadRequest field violations are decoded', () => {
  const status = rpcTypes.Status.encode(
    rpcTypes.Status.fromObject({
      code: 3,
      message: 'invalid request',
      details: [
        any(rpcTypes.BadRequest, {
          fieldViolations: [
            { field: 'action', description: 'must not be empty' },
            { field: 'scene.characters[0].name', description: 'required' },
          ],
        }),
      ],
    }),
  ).finish();
  const err = NarratorError.fromGrpcError(serviceError(3, 'invalid request', status));
  assert.ok(err instanceof Error);
  assert.equal(err.name, 'NarratorError');
  assert.equal(err.code, 'INVALID_ARGUMENT');
  assert.equal(err.grpcCode, 3);
  assert.equal(err.message, 'invalid request');
  assert.deepEqual(err.fieldViolations, [
    { field: 'action', description: 'must not be empty' },
    { field: 'scene.characters[0].name', description: 'required' },
  ]);
  assert.equal(err.retryAfterMs, null);
});

test('RetryInfo gives retryAfterMs', () => {
  const status = rpcTypes.Status.encode(
    rpcTypes.Status.fromObject({
      code: 8,
      message: 'rate limited',
      details: [any(rpcTypes.RetryInfo, { retryDelay: { seconds: 2, nanos: 500_000_000 } })],
    }),
  ).finish();
  const err = NarratorError.fromGrpcError(serviceError(8, 'rate limited', status));
  assert.equal(err.code, 'RESOURCE_EXHAUSTED');
  assert.equal(err.retryAfterMs, 2500);
  assert.deepEqual(err.fieldViolations, []);
});

test('QuotaFailure violations are decoded', () => {
  const status = rpcTypes.Status.encode(
    rpcTypes.Status.fromObject({
      code: 8,
      message: 'over quota',
      details: [
        any(rpcTypes.QuotaFailure, {
          violations: [
            { subject: 'player:alice', description: 'player:alice is over its quota', quotaId: 'player_requests_per_minute', quotaValue: 30 },
            { subject: 'key:0123456789ab', description: 'tokens', quotaId: 'tokens_per_day', quotaValue: '5000000000' },
          ],
        }),
        any(rpcTypes.RetryInfo, { retryDelay: { seconds: 2 } }),
      ],
    }),
  ).finish();
  const err = NarratorError.fromGrpcError(serviceError(8, 'over quota', status));
  assert.equal(err.code, 'RESOURCE_EXHAUSTED');
  assert.deepEqual(err.quotaViolations, [
    { limit: 'player_requests_per_minute', subject: 'player:alice', value: 30, description: 'player:alice is over its quota' },
    { limit: 'tokens_per_day', subject: 'key:0123456789ab', value: 5_000_000_000, description: 'tokens' },
  ]);
  assert.equal(err.retryAfterMs, 2000);
  assert.deepEqual(err.details[0].value, { violations: err.quotaViolations });
});

test('an error without details, and unknown details, are kept as they are', () => {
  const plain = NarratorError.fromGrpcError(Object.assign(new Error('5 NOT_FOUND: x'), { code: 5, details: 'x', metadata: new grpc.Metadata() }));
  assert.equal(plain.code, 'NOT_FOUND');
  assert.equal(plain.message, 'x');
  assert.deepEqual(plain.details, []);

  const status = rpcTypes.Status.encode(
    rpcTypes.Status.fromObject({ code: 9, message: 'm', details: [{ typeUrl: 'type.googleapis.com/acme.Thing', value: Buffer.from([1, 2, 3]) }] }),
  ).finish();
  const decoded = decodeStatusDetails(status);
  assert.equal(decoded.details[0].typeUrl, 'type.googleapis.com/acme.Thing');
  assert.deepEqual([...decoded.details[0].value], [1, 2, 3]);

  const garbage = NarratorError.fromGrpcError(serviceError(2, 'boom', Buffer.from([0xff, 0xff, 0xff])));
  assert.equal(garbage.code, 'UNKNOWN');
  assert.equal(garbage.message, 'boom');
});

test('bytes serialized by Python googleapis-common-protos decode the same', { skip: !existsSync(PYTHON) && `${PYTHON} missing` }, (t) => {
  const script = `
import sys
from google.rpc import status_pb2, error_details_pb2
from google.protobuf import any_pb2
s = status_pb2.Status(code=8, message="slow down")
br = error_details_pb2.BadRequest(field_violations=[error_details_pb2.BadRequest.FieldViolation(field="action", description="too long")])
ri = error_details_pb2.RetryInfo()
ri.retry_delay.seconds = 3
ri.retry_delay.nanos = 250000000
qf = error_details_pb2.QuotaFailure(violations=[error_details_pb2.QuotaFailure.Violation(
    subject="key:abc", description="over", quota_id="requests_per_minute", quota_value=60,
    quota_metric="unused", api_service="unused")])
for m in (br, ri, qf):
    a = any_pb2.Any(); a.Pack(m); s.details.append(a)
sys.stdout.write(s.SerializeToString().hex())
`;
  let hex;
  try {
    hex = execFileSync(PYTHON, ['-c', script], { encoding: 'utf8' });
  } catch {
    t.skip('google.rpc protos not importable in the venv');
    return;
  }
  const decoded = decodeStatusDetails(Buffer.from(hex, 'hex'));
  assert.equal(decoded.code, 8);
  assert.equal(decoded.message, 'slow down');
  assert.deepEqual(decoded.fieldViolations, [{ field: 'action', description: 'too long' }]);
  assert.equal(decoded.retryAfterMs, 3250);
  assert.deepEqual(decoded.quotaViolations, [{ limit: 'requests_per_minute', subject: 'key:abc', value: 60, description: 'over' }]);
});
