// TurnChecker and WatchChecker: the narrator.v1 stream contract, event by event.
#include <utility>

#include "narrator_client.h"

namespace narrator {

// ---------------------------------------------------------------------------
// TurnChecker

bool TurnChecker::Fail(std::string message) {
  if (error_.empty()) error_ = std::move(message);
  return false;
}

bool TurnChecker::Skip() {
  ++skipped_;
  return true;
}

bool TurnChecker::Feed(const v1::NarrateResponse& response) {
  if (!ok()) return false;
  switch (response.event_case()) {
    case v1::NarrateResponse::kStarted:
      return OnStarted(response.started());
    case v1::NarrateResponse::kDelta:
      return OnDelta(response.delta());
    case v1::NarrateResponse::kCompleted:
      return OnCompleted(response.completed());
    default:
      return Skip();  // an event of a newer contract
  }
}

bool TurnChecker::Feed(const v1::DecideResponse& response) {
  if (!ok()) return false;
  switch (response.event_case()) {
    case v1::DecideResponse::kStarted:
      return OnStarted(response.started());
    case v1::DecideResponse::kDelta:
      return OnDelta(response.delta());
    case v1::DecideResponse::kDecision:
      return OnDecision(response.decision());
    case v1::DecideResponse::kCompleted:
      return OnCompleted(response.completed());
    default:
      return Skip();
  }
}

bool TurnChecker::Feed(const v1::WatchSessionResponse& response) {
  if (!ok()) return false;
  switch (response.event_case()) {
    case v1::WatchSessionResponse::kStarted:
      return OnStarted(response.started());
    case v1::WatchSessionResponse::kDelta:
      return OnDelta(response.delta());
    case v1::WatchSessionResponse::kDecision:
      return OnDecision(response.decision());
    case v1::WatchSessionResponse::kCompleted:
      return OnCompleted(response.completed());
    case v1::WatchSessionResponse::kEnded:
      return Fail("TurnEnded is for WatchChecker");
    default:
      return Skip();
  }
}

bool TurnChecker::OnStarted(const v1::TurnStarted& started) {
  if (stage_ != Stage::kWaiting) return Fail("TurnStarted received twice or after other events");
  if (started.turn_id().empty()) return Fail("TurnStarted without a turn_id");
  if (started.resumed()) {
    resumed_ = true;
    last_seq_ = resume_after_seq_;
  }
  stage_ = Stage::kStarted;
  return true;
}

bool TurnChecker::OnDelta(const v1::TextDelta& delta) {
  if (stage_ == Stage::kWaiting) return Fail("TextDelta before TurnStarted");
  if (stage_ != Stage::kStarted) return Fail("TextDelta after the Decision or TurnCompleted");
  if (delta.seq() != last_seq_ + 1) {
    return Fail("TextDelta seq " + std::to_string(delta.seq()) + " after seq " +
                std::to_string(last_seq_) + " (expected " + std::to_string(last_seq_ + 1) + ")");
  }
  last_seq_ = delta.seq();
  ++delta_count_;
  text_ += delta.text();
  return true;
}

bool TurnChecker::OnDecision(const v1::Decision& decision) {
  if (!expect_decision_) return Fail("Decision in a Narrate stream");
  if (stage_ == Stage::kWaiting) return Fail("Decision before TurnStarted");
  if (stage_ != Stage::kStarted) return Fail("Decision received twice or after TurnCompleted");
  if (decision.option_id().empty()) return Fail("Decision without an option_id");
  stage_ = Stage::kDecided;
  return true;
}

bool TurnChecker::OnCompleted(const v1::TurnCompleted& completed) {
  if (stage_ == Stage::kWaiting) return Fail("TurnCompleted before TurnStarted");
  if (stage_ == Stage::kCompleted) return Fail("TurnCompleted received twice");
  if (expect_decision_ && stage_ != Stage::kDecided) return Fail("TurnCompleted without a Decision");
  const std::string& whole = completed.text();
  if (resumed_ && resume_after_seq_ > 0) {
    if (whole.size() < text_.size() ||
        whole.compare(whole.size() - text_.size(), text_.size(), text_) != 0) {
      return Fail("TurnCompleted.text does not end with the deltas after seq " +
                  std::to_string(resume_after_seq_));
    }
  } else if (whole != text_) {
    return Fail("TurnCompleted.text (" + std::to_string(whole.size()) +
                " bytes) differs from the concatenated deltas (" + std::to_string(text_.size()) +
                " bytes)");
  }
  stage_ = Stage::kCompleted;
  return true;
}

bool TurnChecker::Finish() {
  if (!ok()) return false;
  if (stage_ != Stage::kCompleted) return Fail("the stream ended OK without a TurnCompleted");
  return true;
}

// ---------------------------------------------------------------------------
// WatchChecker

bool WatchChecker::Fail(std::string message) {
  if (error_.empty()) error_ = std::move(message);
  return false;
}

bool WatchChecker::Feed(const v1::WatchSessionResponse& response) {
  if (!ok()) return false;
  const auto event = response.event_case();
  if (event == v1::WatchSessionResponse::EVENT_NOT_SET) return true;  // a newer event
  if (response.turn_id().empty()) return Fail("WatchSessionResponse without a turn_id");
  if (event == v1::WatchSessionResponse::kStarted) {
    // A turn the server lost may stop without an end when the next starts.
    turn_.emplace(response.kind() == v1::TURN_KIND_DECISION);
    turn_id_ = response.turn_id();
  } else if (event == v1::WatchSessionResponse::kEnded) {
    ++ended_;
    if (response.turn_id() == turn_id_) {
      turn_.reset();
      turn_id_.clear();
    }
    return true;
  } else if (!turn_ || response.turn_id() != turn_id_) {
    return Fail("an event of turn '" + response.turn_id() + "' before its TurnStarted");
  }
  if (!turn_->Feed(response)) return Fail("turn '" + response.turn_id() + "': " + turn_->error());
  if (turn_->completed()) {
    ++completed_;
    turn_.reset();
    turn_id_.clear();
  }
  return true;
}

}  // namespace narrator
