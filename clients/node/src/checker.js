// The stream contract, checked event by event (the client's strict mode).
import * as grpc from '@grpc/grpc-js';
import { NarratorError } from './errors.js';

/**
 * @typedef {import('./types.js').DecideEvent} DecideEvent
 * @typedef {import('./types.js').WatchEvent} WatchEvent
 */

/** @param {string} message */
function protocolError(message) {
  return new NarratorError(`protocol violation: ${message}`, { grpcCode: grpc.status.INTERNAL });
}

/**
 * Checks a stream of events against the contract, event by event.
 *
 * A normal stream: started, deltas seq 1..n, (decision), completed whose text
 * is exactly the concatenated deltas. A resumed stream (started.resumed, only
 * possible when the request had a turnId) sends only the deltas after
 * resumeAfterSeq: they are numbered resumeAfterSeq + 1 .. n without gaps, and
 * completed.text (the whole turn) ends with their concatenation (equals it when
 * resumeAfterSeq is 0).
 */
export class StreamChecker {
  /**
   * @param {boolean} expectDecision
   * @param {Set<string> | null} optionIds
   * @param {{turnId?: string, resumeAfterSeq?: number}} [resume] the request's
   *   turnId and resumeAfterSeq
   */
  constructor(expectDecision, optionIds, resume = {}) {
    this.expectDecision = expectDecision;
    this.optionIds = optionIds;
    this.turnId = resume.turnId ?? '';
    this.resumeAfterSeq = resume.resumeAfterSeq ?? 0;
    this.started = false;
    this.resumed = false;
    this.nextSeq = 1;
    this.deltaCount = 0;
    this.text = '';
    this.decided = false;
    this.completed = false;
  }

  /** @param {DecideEvent} ev */
  check(ev) {
    if (this.completed) throw protocolError(`${ev.type} after completed`);
    if (ev.type === 'started') {
      if (this.started) throw protocolError('second started');
      this.started = true;
      if (ev.resumed) {
        if (!this.turnId) throw protocolError('started.resumed in a call without a turn_id');
        this.resumed = true;
        this.nextSeq = this.resumeAfterSeq + 1;
      }
      return;
    }
    if (!this.started) throw protocolError(`${ev.type} before started`);
    if (ev.type === 'delta') {
      if (this.decided) throw protocolError('delta after decision');
      if (ev.seq !== this.nextSeq) throw protocolError(`delta seq ${ev.seq}, expected ${this.nextSeq}`);
      this.nextSeq += 1;
      this.deltaCount += 1;
      this.text += ev.text;
    } else if (ev.type === 'decision') {
      if (!this.expectDecision) throw protocolError('decision in a Narrate stream');
      if (this.decided) throw protocolError('second decision');
      if (this.optionIds && !this.optionIds.has(ev.optionId)) {
        throw protocolError(`decision option "${ev.optionId}" is not one of the request's options`);
      }
      if (ev.arguments === null || typeof ev.arguments !== 'object' || Array.isArray(ev.arguments)) {
        throw protocolError(`decision arguments are not a JSON object: ${ev.argumentsJson}`);
      }
      this.decided = true;
    } else if (ev.type === 'completed') {
      if (this.expectDecision && !this.decided) throw protocolError('completed without a decision');
      if (!this.resumed || this.resumeAfterSeq === 0) {
        if (ev.text !== this.text) throw protocolError('completed.text differs from the concatenated deltas');
      } else if (!ev.text.endsWith(this.text)) {
        throw protocolError(`completed.text does not end with the deltas after seq ${this.resumeAfterSeq}`);
      }
      let previous = 0;
      for (const r of ev.recoveries) {
        if (r.afterSeq >= this.nextSeq) {
          throw protocolError(`recovery after seq ${r.afterSeq}, but the last delta was seq ${this.nextSeq - 1}`);
        }
        if (r.afterSeq < previous) throw protocolError('recoveries are not in order');
        previous = r.afterSeq;
      }
      this.completed = true;
    }
  }

  end() {
    if (!this.completed) throw protocolError('stream ended without completed');
  }
}

/**
 * Checks a WatchSession stream: each turn is checked as a normal stream
 * (started, deltas 1..n, a decision in decision turns, completed equal to the
 * deltas) or ends with `ended`; every event carries the turn its started
 * named. The stream itself may end at any time (the session was deleted, the
 * call cancelled), and a turn the server lost may stop without an end when
 * the next one starts.
 */
export class WatchChecker {
  constructor() {
    /** @type {string | null} the open turn */
    this.turnId = null;
    /** @type {StreamChecker | null} */
    this.turn = null;
  }

  /** @param {WatchEvent} ev */
  check(ev) {
    if (!ev.turnId) throw protocolError(`${ev.type} without a turn_id`);
    if (ev.type === 'started') {
      this.turnId = ev.turnId;
      this.turn = new StreamChecker(ev.kind === 'TURN_KIND_DECISION', null);
      this.turn.check({ ...ev, resumed: false });
      return;
    }
    if (ev.type === 'ended') {
      // A turn may end before a watcher could read its start.
      if (ev.turnId === this.turnId) this.close();
      return;
    }
    if (!this.turn || ev.turnId !== this.turnId) {
      throw protocolError(`${ev.type} of turn "${ev.turnId}" before its started`);
    }
    this.turn.check(ev);
    if (ev.type === 'completed') this.close();
  }

  /** @private */
  close() {
    this.turnId = null;
    this.turn = null;
  }

  end() {}
}
