// NarratorClient: the calls (unary, streamed, blocking).
#include "narrator_client.h"

#include <utility>

namespace narrator {

template <typename Request, typename Response, typename Call>
grpc::Status NarratorClient::Unary(Call call, const Request& request, Response* response) {
  if (!identity_status_.ok()) return identity_status_;
  auto context = NewContext(options_.unary_deadline);
  return ((*stub_).*call)(context.get(), request, response);
}

grpc::Status NarratorClient::CreateSession(const v1::CreateSessionRequest& request,
                                           v1::Session* session) {
  v1::CreateSessionResponse response;
  grpc::Status status = Unary(&v1::NarratorService::Stub::CreateSession, request, &response);
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
  v1::GetSessionRequest request;
  request.set_session_id(session_id);
  request.set_recent_turn_limit(recent_turn_limit);
  v1::GetSessionResponse response;
  grpc::Status status = Unary(&v1::NarratorService::Stub::GetSession, request, &response);
  if (status.ok() && session != nullptr) *session = response.session();
  return status;
}

grpc::Status NarratorClient::DeleteSession(const std::string& session_id) {
  v1::DeleteSessionRequest request;
  request.set_session_id(session_id);
  v1::DeleteSessionResponse response;
  return Unary(&v1::NarratorService::Stub::DeleteSession, request, &response);
}

grpc::Status NarratorClient::PutLoreEntry(const std::string& session_id,
                                          const v1::LoreEntry& entry, v1::LoreEntry* stored) {
  v1::PutLoreEntryRequest request;
  request.set_session_id(session_id);
  *request.mutable_entry() = entry;
  v1::PutLoreEntryResponse response;
  grpc::Status status = Unary(&v1::NarratorService::Stub::PutLoreEntry, request, &response);
  if (status.ok() && stored != nullptr) *stored = response.entry();
  return status;
}

grpc::Status NarratorClient::ListLoreEntries(const std::string& session_id, uint32_t page_size,
                                             const std::string& page_token,
                                             v1::ListLoreEntriesResponse* page) {
  v1::ListLoreEntriesRequest request;
  request.set_session_id(session_id);
  request.set_page_size(page_size);
  request.set_page_token(page_token);
  return Unary(&v1::NarratorService::Stub::ListLoreEntries, request, page);
}

grpc::Status NarratorClient::ListAllLoreEntries(const std::string& session_id,
                                                std::vector<v1::LoreEntry>* entries) {
  std::string token;
  do {
    v1::ListLoreEntriesResponse page;
    grpc::Status status = ListLoreEntries(session_id, 0, token, &page);
    if (!status.ok()) return status;
    entries->insert(entries->end(), page.entries().begin(), page.entries().end());
    token = page.next_page_token();
  } while (!token.empty());
  return grpc::Status::OK;
}

grpc::Status NarratorClient::DeleteLoreEntry(const std::string& session_id,
                                             const std::string& entry_id) {
  v1::DeleteLoreEntryRequest request;
  request.set_session_id(session_id);
  request.set_entry_id(entry_id);
  v1::DeleteLoreEntryResponse response;
  return Unary(&v1::NarratorService::Stub::DeleteLoreEntry, request, &response);
}

grpc::Status NarratorClient::GetTurnContext(const std::string& session_id,
                                            const std::string& turn_id,
                                            v1::GetTurnContextResponse* context) {
  v1::GetTurnContextRequest request;
  request.set_session_id(session_id);
  request.set_turn_id(turn_id);
  return Unary(&v1::NarratorService::Stub::GetTurnContext, request, context);
}

grpc::Status NarratorClient::ExportSession(const std::string& session_id, std::string* document) {
  v1::ExportSessionRequest request;
  request.set_session_id(session_id);
  v1::ExportSessionResponse response;
  grpc::Status status = Unary(&v1::NarratorService::Stub::ExportSession, request, &response);
  if (status.ok() && document != nullptr) *document = response.document();
  return status;
}

grpc::Status NarratorClient::ImportSession(const std::string& document, v1::Session* session) {
  v1::ImportSessionRequest request;
  request.set_document(document);
  v1::ImportSessionResponse response;
  grpc::Status status = Unary(&v1::NarratorService::Stub::ImportSession, request, &response);
  if (status.ok() && session != nullptr) *session = response.session();
  return status;
}

std::unique_ptr<EventStream<v1::NarrateResponse>> NarratorClient::StartNarrate(
    const std::string& session_id, const std::string& action, const v1::Scene& scene) {
  v1::NarrateRequest request;
  request.set_session_id(session_id);
  request.set_action(action);
  *request.mutable_scene() = scene;
  return StartNarrate(request);
}

template <typename Response, typename Request, typename Call>
std::unique_ptr<EventStream<Response>> NarratorClient::Start(std::chrono::milliseconds deadline,
                                                             const Request& request, Call call) {
  if (!identity_status_.ok()) return std::make_unique<EventStream<Response>>(identity_status_);
  auto context = NewContext(deadline);
  auto reader = ((*stub_).*call)(context.get(), request);
  return std::make_unique<EventStream<Response>>(std::move(context), std::move(reader));
}

std::unique_ptr<EventStream<v1::NarrateResponse>> NarratorClient::StartNarrate(
    const v1::NarrateRequest& request) {
  return Start<v1::NarrateResponse>(options_.stream_deadline, request,
                                    &v1::NarratorService::Stub::Narrate);
}

std::unique_ptr<EventStream<v1::DecideResponse>> NarratorClient::StartDecide(
    const v1::DecideRequest& request) {
  return Start<v1::DecideResponse>(options_.stream_deadline, request,
                                   &v1::NarratorService::Stub::Decide);
}

std::unique_ptr<EventStream<v1::WatchSessionResponse>> NarratorClient::StartWatch(
    const std::string& session_id) {
  v1::WatchSessionRequest request;
  request.set_session_id(session_id);
  return Start<v1::WatchSessionResponse>(options_.watch_deadline, request,
                                         &v1::NarratorService::Stub::WatchSession);
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

grpc::Status ContractBroken(const std::string& error) {
  return grpc::Status(grpc::StatusCode::DATA_LOSS,
                      "stream broke the narrator.v1 contract: " + error);
}

// The shared Read loop of the blocking Narrate/Decide.
template <typename Response, typename Handler>
TurnResult RunTurn(EventStream<Response>& stream, TurnChecker checker, const Handler& on_event) {
  TurnResult result;
  Response response;
  bool stopped = false;
  while (stream.Read(&response)) {
    if (!checker.Feed(response)) {
      stream.Cancel();
      stream.Finish();
      result.status = ContractBroken(checker.error());
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
      result.status = ContractBroken(checker.error());
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
  return RunTurn(*stream, TurnChecker(/*expect_decision=*/false), on_event);
}

TurnResult NarratorClient::Narrate(const v1::NarrateRequest& request,
                                   const NarrateHandler& on_event) {
  auto stream = StartNarrate(request);
  return RunTurn(*stream, TurnChecker(false, request.resume_after_seq()), on_event);
}

TurnResult NarratorClient::Decide(const v1::DecideRequest& request, const DecideHandler& on_event) {
  auto stream = StartDecide(request);
  return RunTurn(*stream, TurnChecker(true, request.resume_after_seq()), on_event);
}

grpc::Status NarratorClient::Watch(const std::string& session_id, const WatchHandler& on_event) {
  auto stream = StartWatch(session_id);
  WatchChecker checker;
  v1::WatchSessionResponse response;
  while (stream->Read(&response)) {
    if (!checker.Feed(response)) {
      stream->Cancel();
      stream->Finish();
      return ContractBroken(checker.error());
    }
    if (on_event && !on_event(response)) {
      stream->Cancel();
      stream->Finish();
      return grpc::Status(grpc::StatusCode::CANCELLED, "watch stopped by the client");
    }
  }
  return stream->Finish();
}

}  // namespace narrator
