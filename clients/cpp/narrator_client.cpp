#include "narrator_client.h"

#include <google/protobuf/unknown_field_set.h>

#include <sstream>
#include <utility>
#include <vector>

namespace narrator {

// ---------------------------------------------------------------------------
// TurnChecker

bool TurnChecker::Fail(std::string message) {
  if (error_.empty()) error_ = std::move(message);
  return false;
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
      return Fail("NarrateResponse without an event");
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
      return Fail("DecideResponse without an event");
  }
}

bool TurnChecker::OnStarted(const v1::TurnStarted& started) {
  if (stage_ != Stage::kWaiting) return Fail("TurnStarted received twice or after other events");
  if (started.turn_id().empty()) return Fail("TurnStarted without a turn_id");
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
  if (completed.text() != text_) {
    return Fail("TurnCompleted.text (" + std::to_string(completed.text().size()) +
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
// NarratorClient

NarratorClient::NarratorClient(std::shared_ptr<grpc::Channel> channel, ClientOptions options)
    : options_(options),
      channel_(std::move(channel)),
      stub_(v1::NarratorService::NewStub(channel_)) {}

std::unique_ptr<NarratorClient> NarratorClient::Connect(const std::string& address,
                                                        ClientOptions options) {
  return std::make_unique<NarratorClient>(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()), options);
}

std::unique_ptr<grpc::ClientContext> NarratorClient::NewContext(
    std::chrono::milliseconds deadline) const {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + deadline);
  context->set_wait_for_ready(options_.wait_for_ready);
  return context;
}

grpc::Status NarratorClient::CreateSession(const v1::CreateSessionRequest& request,
                                           v1::Session* session) {
  auto context = NewContext(options_.unary_deadline);
  v1::CreateSessionResponse response;
  grpc::Status status = stub_->CreateSession(context.get(), request, &response);
  if (status.ok() && session != nullptr) *session = response.session();
  return status;
}

grpc::Status NarratorClient::CreateSession(const std::string& world, const std::string& tone,
                                           const std::string& player_name,
                                           const std::string& player_description, uint64_t seed,
                                           v1::Session* session) {
  v1::CreateSessionRequest request;
  request.mutable_setting()->set_world(world);
  request.mutable_setting()->set_tone(tone);
  request.mutable_player()->set_name(player_name);
  request.mutable_player()->set_description(player_description);
  request.set_seed(seed);
  return CreateSession(request, session);
}

grpc::Status NarratorClient::GetSession(const std::string& session_id, uint32_t recent_turn_limit,
                                        v1::Session* session) {
  auto context = NewContext(options_.unary_deadline);
  v1::GetSessionRequest request;
  request.set_session_id(session_id);
  request.set_recent_turn_limit(recent_turn_limit);
  v1::GetSessionResponse response;
  grpc::Status status = stub_->GetSession(context.get(), request, &response);
  if (status.ok() && session != nullptr) *session = response.session();
  return status;
}

grpc::Status NarratorClient::DeleteSession(const std::string& session_id) {
  auto context = NewContext(options_.unary_deadline);
  v1::DeleteSessionRequest request;
  request.set_session_id(session_id);
  v1::DeleteSessionResponse response;
  return stub_->DeleteSession(context.get(), request, &response);
}

std::unique_ptr<TurnStream<v1::NarrateResponse>> NarratorClient::StartNarrate(
    const std::string& session_id, const std::string& action, const v1::Scene& scene) {
  v1::NarrateRequest request;
  request.set_session_id(session_id);
  request.set_action(action);
  *request.mutable_scene() = scene;
  auto context = NewContext(options_.stream_deadline);
  auto reader = stub_->Narrate(context.get(), request);
  return std::make_unique<TurnStream<v1::NarrateResponse>>(std::move(context), std::move(reader));
}

std::unique_ptr<TurnStream<v1::DecideResponse>> NarratorClient::StartDecide(
    const v1::DecideRequest& request) {
  auto context = NewContext(options_.stream_deadline);
  auto reader = stub_->Decide(context.get(), request);
  return std::make_unique<TurnStream<v1::DecideResponse>>(std::move(context), std::move(reader));
}

namespace {

void Record(const v1::NarrateResponse& response, TurnResult* result) {
  if (response.has_started()) result->started = response.started();
  if (response.has_completed()) result->completed = response.completed();
}

void Record(const v1::DecideResponse& response, TurnResult* result) {
  if (response.has_started()) result->started = response.started();
  if (response.has_decision()) {
    result->has_decision = true;
    result->decision = response.decision();
  }
  if (response.has_completed()) result->completed = response.completed();
}

// The shared Read loop of the blocking Narrate/Decide.
template <typename Response, typename Handler>
TurnResult RunTurn(TurnStream<Response>& stream, bool expect_decision, const Handler& on_event) {
  TurnResult result;
  TurnChecker checker(expect_decision);
  Response response;
  bool stopped = false;
  while (stream.Read(&response)) {
    if (!checker.Feed(response)) {
      stream.Cancel();
      stream.Finish();
      result.status = grpc::Status(grpc::StatusCode::DATA_LOSS,
                                   "stream broke the narrator.v1 contract: " + checker.error());
      break;
    }
    Record(response, &result);
    if (on_event && !on_event(response)) {
      stream.Cancel();
      stopped = true;
      break;
    }
  }
  if (result.status.ok()) {
    grpc::Status status = stream.Finish();
    if (stopped) {
      result.status = grpc::Status(grpc::StatusCode::CANCELLED, "turn cancelled by the client");
    } else if (!status.ok()) {
      result.status = status;
    } else if (!checker.Finish()) {
      result.status = grpc::Status(grpc::StatusCode::DATA_LOSS,
                                   "stream broke the narrator.v1 contract: " + checker.error());
    }
  }
  result.text = checker.text();
  result.delta_count = checker.delta_count();
  return result;
}

}  // namespace

TurnResult NarratorClient::Narrate(const std::string& session_id, const std::string& action,
                                   const v1::Scene& scene, const NarrateHandler& on_event) {
  auto stream = StartNarrate(session_id, action, scene);
  return RunTurn(*stream, /*expect_decision=*/false, on_event);
}

TurnResult NarratorClient::Decide(const v1::DecideRequest& request, const DecideHandler& on_event) {
  auto stream = StartDecide(request);
  return RunTurn(*stream, /*expect_decision=*/true, on_event);
}

// ---------------------------------------------------------------------------
// Status helpers: google.rpc.Status in grpc-status-details-bin, decoded
// without the google/rpc protos (Debian does not ship them for C++).

namespace {

using google::protobuf::UnknownField;
using google::protobuf::UnknownFieldSet;

std::vector<std::string> Strings(const UnknownFieldSet& set, int number) {
  std::vector<std::string> out;
  for (int i = 0; i < set.field_count(); ++i) {
    const UnknownField& field = set.field(i);
    if (field.number() == number && field.type() == UnknownField::TYPE_LENGTH_DELIMITED) {
      out.push_back(field.length_delimited());
    }
  }
  return out;
}

uint64_t Varint(const UnknownFieldSet& set, int number) {
  for (int i = 0; i < set.field_count(); ++i) {
    const UnknownField& field = set.field(i);
    if (field.number() == number && field.type() == UnknownField::TYPE_VARINT) return field.varint();
  }
  return 0;
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

struct Detail {
  std::string type;   // "google.rpc.BadRequest"
  std::string value;  // the serialized detail message
};

std::vector<Detail> Details(const grpc::Status& status) {
  std::vector<Detail> out;
  UnknownFieldSet rpc_status;
  if (status.error_details().empty() || !rpc_status.ParseFromString(status.error_details())) {
    return out;
  }
  for (const std::string& any_bytes : Strings(rpc_status, 3)) {  // Status.details
    UnknownFieldSet any;
    if (!any.ParseFromString(any_bytes)) continue;
    Detail detail;
    auto urls = Strings(any, 1);     // Any.type_url
    auto values = Strings(any, 2);   // Any.value
    if (urls.empty()) continue;
    detail.type = urls[0].substr(urls[0].rfind('/') + 1);
    if (!values.empty()) detail.value = values[0];
    out.push_back(std::move(detail));
  }
  return out;
}

std::optional<std::chrono::milliseconds> DelayOf(const Detail& detail) {
  UnknownFieldSet retry_info;
  if (!retry_info.ParseFromString(detail.value)) return std::nullopt;
  std::vector<std::string> durations = Strings(retry_info, 1);  // RetryInfo.retry_delay
  if (durations.empty()) return std::chrono::milliseconds(0);
  UnknownFieldSet duration;
  if (!duration.ParseFromString(durations[0])) return std::nullopt;
  auto seconds = static_cast<int64_t>(Varint(duration, 1));
  auto nanos = static_cast<int64_t>(Varint(duration, 2));
  return std::chrono::milliseconds(seconds * 1000 + nanos / 1'000'000);
}

}  // namespace

std::optional<std::chrono::milliseconds> RetryDelay(const grpc::Status& status) {
  for (const Detail& detail : Details(status)) {
    if (EndsWith(detail.type, "google.rpc.RetryInfo")) return DelayOf(detail);
  }
  return std::nullopt;
}

const char* StatusCodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK: return "OK";
    case grpc::StatusCode::CANCELLED: return "CANCELLED";
    case grpc::StatusCode::UNKNOWN: return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND: return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS: return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED: return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION: return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED: return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE: return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED: return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL: return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE: return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS: return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED: return "UNAUTHENTICATED";
    default: return "UNKNOWN_CODE";
  }
}

std::string DescribeStatus(const grpc::Status& status) {
  std::ostringstream out;
  out << StatusCodeName(status.error_code()) << " (" << static_cast<int>(status.error_code())
      << ")";
  if (!status.error_message().empty()) out << ": " << status.error_message();
  for (const Detail& detail : Details(status)) {
    out << " [" << detail.type;
    UnknownFieldSet value;
    if (!value.ParseFromString(detail.value)) value.Clear();
    if (EndsWith(detail.type, "google.rpc.BadRequest")) {
      for (const std::string& violation_bytes : Strings(value, 1)) {
        UnknownFieldSet violation;
        if (!violation.ParseFromString(violation_bytes)) continue;
        auto field = Strings(violation, 1);
        auto description = Strings(violation, 2);
        out << " " << (field.empty() ? "?" : field[0]) << ": "
            << (description.empty() ? "" : description[0]) << ";";
      }
    } else if (EndsWith(detail.type, "google.rpc.RetryInfo")) {
      if (auto delay = DelayOf(detail)) out << " retry after " << delay->count() << " ms";
    } else if (EndsWith(detail.type, "google.rpc.ErrorInfo")) {
      auto reason = Strings(value, 1);
      if (!reason.empty()) out << " " << reason[0];
    }
    out << "]";
  }
  return out.str();
}

}  // namespace narrator
