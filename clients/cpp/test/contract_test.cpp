// TurnChecker, WatchChecker and the status details, without a server.
#include <google/protobuf/unknown_field_set.h>

#include "check.h"
#include "newer_messages.h"

namespace v1 = narrator::v1;
using narrator::TurnChecker;
using narrator::WatchChecker;

namespace {

v1::NarrateResponse Started(const std::string& turn_id, bool resumed = false) {
  v1::NarrateResponse r;
  r.mutable_started()->set_turn_id(turn_id);
  r.mutable_started()->set_provider("offline");
  r.mutable_started()->set_resumed(resumed);
  return r;
}

v1::NarrateResponse Delta(uint32_t seq, const std::string& text) {
  v1::NarrateResponse r;
  r.mutable_delta()->set_seq(seq);
  r.mutable_delta()->set_text(text);
  return r;
}

v1::NarrateResponse Completed(const std::string& text) {
  v1::NarrateResponse r;
  r.mutable_completed()->set_text(text);
  return r;
}

// Feeds every message; "" when the stream passes, else the first violation.
std::string Violation(const std::vector<v1::NarrateResponse>& stream, uint32_t resume_after = 0) {
  TurnChecker checker(false, resume_after);
  for (const auto& r : stream) {
    if (!checker.Feed(r)) return checker.error();
  }
  return checker.Finish() ? "" : checker.error();
}

bool Contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST_CASE(turn_checker_skips_events_of_a_newer_contract) {
  auto hint = narrator_test::Newer<v1::NarrateResponse>();
  CHECK(hint.event_case() == v1::NarrateResponse::EVENT_NOT_SET);
  CHECK(!hint.GetReflection()->GetUnknownFields(hint).empty());
  TurnChecker checker(false);
  for (const auto& r : {hint, Started("t"), Delta(1, "a "), hint, Delta(2, "b"), Completed("a b"), hint}) {
    CHECK(checker.Feed(r));
  }
  CHECK(checker.Finish());
  CHECK_EQ(checker.skipped(), 3u);
  CHECK_EQ(checker.delta_count(), 2u);
  CHECK_EQ(checker.text(), std::string("a b"));

  TurnChecker decide(true);
  auto newer_decide = narrator_test::Newer<v1::DecideResponse>();
  CHECK(decide.Feed(newer_decide));
  CHECK_EQ(decide.skipped(), 1u);
}

TEST_CASE(turn_checker_reports_violations) {
  CHECK_EQ(Violation({Started("t"), Delta(1, "a"), Completed("a")}), std::string());
  CHECK(Contains(Violation({Started("t"), Delta(2, "a"), Completed("a")}), "seq 2 after seq 0"));
  CHECK(Contains(Violation({Started("t"), Delta(1, "a"), Completed("ab")}), "differs"));
  CHECK(Contains(Violation({Delta(1, "a")}), "before TurnStarted"));
  CHECK(Contains(Violation({Started("t"), Delta(1, "a")}), "without a TurnCompleted"));
  CHECK(Contains(Violation({Started("t"), Started("t")}), "twice"));
}

TEST_CASE(turn_checker_follows_a_resumed_stream) {
  // Resumed after seq 2: deltas from 3, and the whole text ends with them.
  CHECK_EQ(Violation({Started("t", true), Delta(3, "c"), Delta(4, "d"), Completed("a b cd")}, 2),
           std::string());
  CHECK_EQ(Violation({Started("t", true), Completed("a b")}, 2), std::string());
  CHECK(Contains(Violation({Started("t", true), Delta(1, "a"), Completed("a")}, 2), "expected 3"));
  CHECK(Contains(Violation({Started("t", true), Delta(3, "c"), Completed("a b x")}, 2),
                 "does not end with"));
  // A new turn (resumed false) is a normal stream whatever resume_after_seq said.
  CHECK_EQ(Violation({Started("t"), Delta(1, "a"), Completed("a")}, 2), std::string());
}

namespace {

v1::WatchSessionResponse Watched(const std::string& turn_id, v1::TurnKind kind,
                                 const v1::NarrateResponse& event) {
  v1::WatchSessionResponse w;
  w.set_turn_id(turn_id);
  w.set_kind(kind);
  if (event.has_started()) *w.mutable_started() = event.started();
  if (event.has_delta()) *w.mutable_delta() = event.delta();
  if (event.has_completed()) *w.mutable_completed() = event.completed();
  return w;
}

v1::WatchSessionResponse Ended(const std::string& turn_id) {
  v1::WatchSessionResponse w;
  w.set_turn_id(turn_id);
  w.mutable_ended()->set_status(v1::TURN_STATUS_CANCELLED);
  return w;
}

}  // namespace

TEST_CASE(watch_checker_checks_each_turn) {
  const auto n = v1::TURN_KIND_NARRATION;
  const auto d = v1::TURN_KIND_DECISION;
  WatchChecker ok;
  for (const auto& w : {Watched("a", n, Started("a")), Watched("a", n, Delta(1, "x")),
                        narrator_test::Newer<v1::WatchSessionResponse>(),
                        Watched("a", n, Completed("x")), Ended("z"), Watched("b", n, Started("b")),
                        Watched("b", n, Delta(1, "y")), Ended("b")}) {
    CHECK(ok.Feed(w));
  }
  CHECK_EQ(ok.turns_completed(), 1u);
  CHECK_EQ(ok.turns_ended(), 2u);
  CHECK_EQ(ok.turn_id(), std::string());

  WatchChecker gap;
  CHECK(gap.Feed(Watched("a", n, Started("a"))));
  CHECK(!gap.Feed(Watched("a", n, Delta(2, "x"))));
  CHECK(Contains(gap.error(), "turn 'a': TextDelta seq 2"));

  WatchChecker foreign;
  CHECK(foreign.Feed(Watched("a", n, Started("a"))));
  CHECK(!foreign.Feed(Watched("b", n, Delta(1, "x"))));
  CHECK(Contains(foreign.error(), "before its TurnStarted"));

  WatchChecker undecided;  // a decision turn must decide before it completes
  CHECK(undecided.Feed(Watched("a", d, Started("a"))));
  CHECK(!undecided.Feed(Watched("a", d, Completed(""))));
  CHECK(Contains(undecided.error(), "without a Decision"));
}

namespace {

using google::protobuf::UnknownFieldSet;

std::string Bytes(const UnknownFieldSet& set) {
  std::string out;
  set.SerializeToString(&out);
  return out;
}

std::string AnyOf(const std::string& type, const UnknownFieldSet& value) {
  UnknownFieldSet any;
  any.AddLengthDelimited(1, "type.googleapis.com/" + type);
  any.AddLengthDelimited(2, Bytes(value));
  return Bytes(any);
}

// A google.rpc.Status as the server sends it, built field by field.
grpc::Status QuotaStatus() {
  UnknownFieldSet violation;
  violation.AddLengthDelimited(1, "player:alice");
  violation.AddLengthDelimited(2, "player:alice is over its quota of 30 requests per minute");
  violation.AddLengthDelimited(5, "player_requests_per_minute");
  violation.AddVarint(7, 30);
  UnknownFieldSet quota;
  quota.AddLengthDelimited(1, Bytes(violation));
  UnknownFieldSet duration;
  duration.AddVarint(1, 2);
  duration.AddVarint(2, 500'000'000);
  UnknownFieldSet retry;
  retry.AddLengthDelimited(1, Bytes(duration));
  UnknownFieldSet field;
  field.AddLengthDelimited(1, "action");
  field.AddLengthDelimited(2, "too long");
  UnknownFieldSet bad;
  bad.AddLengthDelimited(1, Bytes(field));
  UnknownFieldSet status;
  status.AddVarint(1, 8);
  status.AddLengthDelimited(2, "over quota");
  status.AddLengthDelimited(3, AnyOf("google.rpc.QuotaFailure", quota));
  status.AddLengthDelimited(3, AnyOf("google.rpc.RetryInfo", retry));
  status.AddLengthDelimited(3, AnyOf("google.rpc.BadRequest", bad));
  return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "over quota", Bytes(status));
}

}  // namespace

TEST_CASE(status_details_are_decoded) {
  grpc::Status status = QuotaStatus();
  auto quotas = narrator::QuotaViolations(status);
  CHECK_EQ(quotas.size(), 1u);
  CHECK_EQ(quotas[0].limit, std::string("player_requests_per_minute"));
  CHECK_EQ(quotas[0].subject, std::string("player:alice"));
  CHECK_EQ(quotas[0].value, 30);
  CHECK(Contains(quotas[0].description, "30 requests per minute"));
  auto delay = narrator::RetryDelay(status);
  CHECK(delay.has_value());
  CHECK_EQ(delay->count(), 2500);
  auto fields = narrator::FieldViolations(status);
  CHECK_EQ(fields.size(), 1u);
  CHECK_EQ(fields[0].field, std::string("action"));
  const std::string text = narrator::DescribeStatus(status);
  CHECK(Contains(text, "RESOURCE_EXHAUSTED (8): over quota"));
  CHECK(Contains(text, "player_requests_per_minute=30 player:alice"));
  CHECK(Contains(text, "retry after 2500 ms"));
  CHECK(Contains(text, "action: too long;"));

  grpc::Status plain(grpc::StatusCode::NOT_FOUND, "no such session");
  CHECK(narrator::QuotaViolations(plain).empty());
  CHECK(!narrator::RetryDelay(plain).has_value());
  CHECK_EQ(narrator::DescribeStatus(plain), std::string("NOT_FOUND (5): no such session"));
  grpc::Status garbage(grpc::StatusCode::UNKNOWN, "boom", std::string("\xff\xff\xff", 3));
  CHECK(narrator::QuotaViolations(garbage).empty());
}

TEST_CASE(tls_options_are_checked_before_connecting) {
  std::string error;
  narrator::ClientOptions chain_only;
  chain_only.tls.certificate_chain = narrator::Pem::Text("-----BEGIN CERTIFICATE-----");
  CHECK(narrator::NarratorClient::Connect("127.0.0.1:1", chain_only, &error) == nullptr);
  CHECK(Contains(error, "go together"));

  narrator::ClientOptions missing;
  missing.tls.root_certificates = narrator::Pem::File("/nonexistent/ca.pem");
  CHECK(narrator::NarratorClient::Connect("127.0.0.1:1", missing, &error) == nullptr);
  CHECK(Contains(error, "cannot read /nonexistent/ca.pem"));

  narrator::ClientOptions both;
  both.tls.root_certificates = narrator::Pem{"text", "file"};
  CHECK(narrator::NarratorClient::Connect("127.0.0.1:1", both, &error) == nullptr);
  CHECK(Contains(error, "not both"));

  CHECK(narrator::NarratorClient::Connect("127.0.0.1:1", narrator::ClientOptions{}) != nullptr);
}
