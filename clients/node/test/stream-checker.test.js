// The strict stream check (StreamChecker), without a server: normal streams,
// resumed streams (turnId + resumeAfterSeq) and the violations it reports.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { NarratorClient, NarratorError } from '../src/index.js';
import { StreamChecker, WatchChecker } from '../src/client.js';

const USAGE = { inputTokens: 1, outputTokens: 2 };

/** @param {string} turnId @param {boolean} [resumed] */
const started = (turnId, resumed = false) => ({ type: /** @type {const} */ ('started'), turnId, provider: 'offline', model: 'm', resumed });
/** @param {number} seq @param {string} text */
const delta = (seq, text) => ({ type: /** @type {const} */ ('delta'), seq, text });
/** @param {string} text @param {any[]} [recoveries] */
const completed = (text, recoveries = []) => ({ type: /** @type {const} */ ('completed'), finishReason: 'FINISH_REASON_STOP', usage: USAGE, text, recoveries });
const decision = { type: /** @type {const} */ ('decision'), optionId: 'a', arguments: {}, argumentsJson: '{}', source: 'DECISION_SOURCE_MODEL' };

/**
 * Runs the events through a checker; returns the violation message or null.
 *
 * @param {any[]} events
 * @param {{turnId?: string, resumeAfterSeq?: number}} [resume]
 * @param {boolean} [isDecide]
 */
function violation(events, resume = {}, isDecide = false) {
  const checker = new StreamChecker(isDecide, isDecide ? new Set(['a', 'b']) : null, resume);
  try {
    for (const ev of events) checker.check(ev);
    checker.end();
    return null;
  } catch (err) {
    assert.ok(err instanceof NarratorError);
    assert.equal(err.code, 'INTERNAL');
    return err.message;
  }
}

describe('StreamChecker', () => {
  test('a normal stream: seq 1..n and completed.text equal to the deltas', () => {
    assert.equal(violation([started('t'), delta(1, 'a '), delta(2, 'b'), completed('a b')]), null);
    assert.match(violation([started('t'), delta(2, 'b'), completed('b')]) ?? '', /delta seq 2, expected 1/);
    assert.match(violation([started('t'), delta(1, 'a'), completed('a b')]) ?? '', /completed.text differs/);
    assert.match(violation([started('t'), delta(1, 'a')]) ?? '', /without completed/);
  });

  test('a new turn is checked as a normal stream even when resumeAfterSeq was sent', () => {
    const resume = { turnId: 't', resumeAfterSeq: 2 };
    assert.equal(violation([started('t'), delta(1, 'a '), delta(2, 'b'), completed('a b')], resume), null);
    assert.match(violation([started('t'), delta(3, 'c'), completed('a b c')], resume) ?? '', /delta seq 3, expected 1/);
  });

  test('a resumed stream starts at resumeAfterSeq + 1 and completed.text ends with its deltas', () => {
    const resume = { turnId: 't', resumeAfterSeq: 2 };
    assert.equal(violation([started('t', true), delta(3, 'c '), delta(4, 'd'), completed('a b c d')], resume), null);
    // Nothing left after resumeAfterSeq.
    assert.equal(violation([started('t', true), completed('a b')], resume), null);
    assert.match(violation([started('t', true), delta(1, 'a'), completed('a b')], resume) ?? '', /delta seq 1, expected 3/);
    assert.match(violation([started('t', true), delta(3, 'c'), delta(5, 'e'), completed('a b c e')], resume) ?? '', /delta seq 5, expected 4/);
    assert.match(violation([started('t', true), delta(3, 'c'), completed('a b x')], resume) ?? '', /does not end with/);
  });

  test('a resumed stream with resumeAfterSeq 0 must carry the whole text', () => {
    const resume = { turnId: 't' };
    assert.equal(violation([started('t', true), delta(1, 'a'), completed('a')], resume), null);
    assert.match(violation([started('t', true), delta(1, 'b'), completed('a b')], resume) ?? '', /differs/);
  });

  test('a resumed decide still needs its decision among the options', () => {
    const resume = { turnId: 't', resumeAfterSeq: 1 };
    assert.equal(violation([started('t', true), delta(2, 'b'), decision, completed('a b')], resume, true), null);
    assert.match(violation([started('t', true), delta(2, 'b'), completed('a b')], resume, true) ?? '', /without a decision/);
  });

  test('resumed without a turnId is a violation', () => {
    assert.match(violation([started('t', true), delta(1, 'a'), completed('a')]) ?? '', /resumed in a call without a turn_id/);
  });

  test('recoveries must point at a seq already sent, in order', () => {
    const ok = [{ provider: 'offline', model: 'm', afterSeq: 1 }];
    assert.equal(violation([started('t'), delta(1, 'a'), delta(2, 'b'), completed('ab', ok)]), null);
    const late = [{ provider: 'offline', model: 'm', afterSeq: 3 }];
    assert.match(violation([started('t'), delta(1, 'a'), delta(2, 'b'), completed('ab', late)]) ?? '', /recovery after seq 3/);
    const unordered = [{ provider: 'x', model: 'm', afterSeq: 2 }, { provider: 'y', model: 'm', afterSeq: 1 }];
    assert.match(violation([started('t'), delta(1, 'a'), delta(2, 'b'), completed('ab', unordered)]) ?? '', /not in order/);
  });

  test('a resumeAfterSeq that is not a uint32 fails when iterated, before any call', async () => {
    const client = new NarratorClient('127.0.0.1:1');
    try {
      const events = client.narrate({ sessionId: 's', action: 'a', turnId: 't', resumeAfterSeq: -1 });
      await assert.rejects(events.next(), (err) => err instanceof NarratorError && err.code === 'INVALID_ARGUMENT' && err.fieldViolations[0].field === 'resume_after_seq');
      const decide = client.decide({ sessionId: 's', question: 'q', options: [{ id: 'a' }], resumeAfterSeq: 1.5 });
      await assert.rejects(decide.next(), (err) => err instanceof NarratorError && err.code === 'INVALID_ARGUMENT');
    } finally {
      client.close();
    }
  });
});

describe('WatchChecker', () => {
  /**
   * @param {string} turnId
   * @param {string} kind
   */
  const of = (turnId, kind = 'TURN_KIND_NARRATION') => (/** @type {any} */ ev) => ({ ...ev, turnId, kind });

  /**
   * @param {any[]} events
   * @returns {string | null} the violation, or null
   */
  function watchViolation(events) {
    const checker = new WatchChecker();
    try {
      for (const ev of events) checker.check(ev);
      checker.end();
      return null;
    } catch (err) {
      assert.ok(err instanceof NarratorError);
      assert.equal(err.code, 'INTERNAL');
      return err.message;
    }
  }

  const a = of('a');
  const b = of('b', 'TURN_KIND_DECISION');
  const turnA = [a(started('a')), a(delta(1, 'x')), a(completed('x'))];

  test('turns one after the other, each checked as a stream; the watch may end anywhere', () => {
    assert.equal(watchViolation([...turnA, b(started('b')), b(delta(1, 'y')), b(decision), b(completed('y'))]), null);
    assert.equal(watchViolation([...turnA, b(started('b')), b(delta(1, 'y'))]), null);
    assert.equal(watchViolation([]), null);
  });

  test('ended closes a turn, also one whose start was never seen', () => {
    assert.equal(watchViolation([a(started('a')), a(delta(1, 'x')), a({ type: 'ended', status: 'TURN_STATUS_CANCELLED', reason: '' })]), null);
    assert.equal(watchViolation([b({ type: 'ended', status: 'TURN_STATUS_INTERRUPTED', reason: '' }), ...turnA]), null);
    assert.match(watchViolation([a(started('a')), a({ type: 'ended', status: 'TURN_STATUS_FAILED', reason: '' }), a(delta(1, 'x'))]) ?? '', /before its started/);
  });

  test('violations within a turn, and events of a turn that did not start', () => {
    assert.match(watchViolation([a(started('a')), a(delta(2, 'x'))]) ?? '', /delta seq 2, expected 1/);
    assert.match(watchViolation([a(started('a')), a(delta(1, 'x')), a(decision)]) ?? '', /decision in a Narrate stream/);
    assert.match(watchViolation([b(started('b')), b(delta(1, 'y')), b(completed('y'))]) ?? '', /without a decision/);
    assert.match(watchViolation([a(started('a')), b(delta(1, 'y'))]) ?? '', /turn "b" before its started/);
    assert.match(watchViolation([...turnA, a(delta(2, 'z'))]) ?? '', /before its started/);
    assert.match(watchViolation([{ ...delta(1, 'x'), turnId: '', kind: 'TURN_KIND_NARRATION' }]) ?? '', /without a turn_id/);
  });
});

