// NarratorClient: channels (plaintext, TLS, mTLS), call metadata (API key,
// player) and the calls.
#include "narrator_client.h"

#include <fstream>
#include <sstream>
#include <tuple>
#include <utility>

namespace narrator {

namespace {

// The PEM text of `pem` (read from its file when it names one).
grpc::Status ReadPem(const Pem& pem, const char* what, std::string* out) {
  if (!pem.text.empty() && !pem.file.empty()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        std::string(what) + ": set its text or its file, not both");
  }
  if (pem.file.empty()) {
    *out = pem.text;
    return grpc::Status::OK;
  }
  std::ifstream in(pem.file, std::ios::binary);
  std::ostringstream text;
  if (!in || !(text << in.rdbuf())) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        std::string(what) + ": cannot read " + pem.file);
  }
  *out = text.str();
  return grpc::Status::OK;
}

// INVALID_ARGUMENT unless the key and player can travel as gRPC metadata.
grpc::Status IdentityStatus(const ClientOptions& options) {
  auto printable = [](const std::string& value) {
    for (unsigned char c : value) {
      if (c < 0x20 || c > 0x7e) return false;
    }
    return true;
  };
  if (!printable(options.api_key) || options.api_key.find(' ') != std::string::npos) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "api_key: must be printable ASCII without spaces");
  }
  if (!printable(options.player)) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "player: must be printable ASCII (it travels as gRPC metadata)");
  }
  return grpc::Status::OK;
}

}  // namespace

grpc::Status MakeChannelCredentials(const TlsOptions& tls,
                                    std::shared_ptr<grpc::ChannelCredentials>* credentials,
                                    grpc::ChannelArguments* arguments) {
  if (!tls.active()) {
    *credentials = grpc::InsecureChannelCredentials();
    return grpc::Status::OK;
  }
  if (tls.certificate_chain.empty() != tls.private_key.empty()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "tls: certificate_chain and private_key go together (mTLS)");
  }
  grpc::SslCredentialsOptions ssl;
  for (auto [pem, what, out] : {std::make_tuple(&tls.root_certificates, "root_certificates",
                                                &ssl.pem_root_certs),
                                std::make_tuple(&tls.certificate_chain, "certificate_chain",
                                                &ssl.pem_cert_chain),
                                std::make_tuple(&tls.private_key, "private_key",
                                                &ssl.pem_private_key)}) {
    grpc::Status status = ReadPem(*pem, what, out);
    if (!status.ok()) return status;
  }
  *credentials = grpc::SslCredentials(ssl);
  if (!tls.server_name.empty()) arguments->SetSslTargetNameOverride(tls.server_name);
  return grpc::Status::OK;
}

NarratorClient::NarratorClient(std::shared_ptr<grpc::Channel> channel, ClientOptions options)
    : options_(std::move(options)),
      channel_(std::move(channel)),
      stub_(v1::NarratorService::NewStub(channel_)),
      identity_status_(IdentityStatus(options_)) {}

std::unique_ptr<NarratorClient> NarratorClient::Connect(const std::string& address,
                                                        ClientOptions options,
                                                        std::string* error) {
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  grpc::ChannelArguments arguments;
  grpc::Status status = IdentityStatus(options);
  if (status.ok()) status = MakeChannelCredentials(options.tls, &credentials, &arguments);
  if (!status.ok()) {
    if (error != nullptr) *error = status.error_message();
    return nullptr;
  }
  // Save games (ExportSession) may be up to 8 MiB: above gRPC's default 4 MiB.
  arguments.SetMaxReceiveMessageSize(kMaxReceiveBytes);
  auto channel = grpc::CreateCustomChannel(address, credentials, arguments);
  return std::make_unique<NarratorClient>(std::move(channel), std::move(options));
}

std::unique_ptr<NarratorClient> NarratorClient::WithPlayer(const std::string& player) const {
  ClientOptions options = options_;
  options.player = player;
  return std::make_unique<NarratorClient>(channel_, std::move(options));
}

std::unique_ptr<grpc::ClientContext> NarratorClient::NewContext(
    std::chrono::milliseconds deadline) const {
  auto context = std::make_unique<grpc::ClientContext>();
  if (deadline.count() > 0) context->set_deadline(std::chrono::system_clock::now() + deadline);
  context->set_wait_for_ready(options_.wait_for_ready);
  if (!identity_status_.ok()) return context;
  if (!options_.api_key.empty()) {
    context->AddMetadata("authorization", "Bearer " + options_.api_key);
  }
  if (!options_.player.empty()) context->AddMetadata("x-narrator-player", options_.player);
  return context;
}

grpc::Status NarratorClient::CreateSession(const v1::CreateSessionRequest& request,
                                           v1::Session* session) {
  if (!identity_status_.ok()) return identity_status_;
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
  if (!identity_status_.ok()) return identity_status_;
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
  if (!identity_status_.ok()) return identity_status_;
  auto context = NewContext(options_.unary_deadline);
  v1::DeleteSessionRequest request;
  request.set_session_id(session_id);
  v1::DeleteSessionResponse response;
  return stub_->DeleteSession(context.get(), request, &response);
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
