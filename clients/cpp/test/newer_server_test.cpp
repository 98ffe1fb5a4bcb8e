// Through a real gRPC connection to an in-process server that speaks a NEWER
// contract: its streams carry events this client does not know (skipped,
// never an error), its enums values this client does not know (kept as
// numbers). The server also records the metadata of each call.
#include <mutex>
#include <thread>

#include "check.h"
#include "newer_messages.h"

namespace v1 = narrator::v1;

namespace {

constexpr int kArchived = 9;  // a TurnStatus this client does not know

class NewerService final : public v1::NarratorService::Service {
 public:
  grpc::Status Narrate(grpc::ServerContext* context, const v1::NarrateRequest*,
                       grpc::ServerWriter<v1::NarrateResponse>* writer) override {
    Remember(context);
    WriteTurn(writer, false);
    return grpc::Status::OK;
  }

  grpc::Status Decide(grpc::ServerContext* context, const v1::DecideRequest*,
                      grpc::ServerWriter<v1::DecideResponse>* writer) override {
    Remember(context);
    WriteTurn(writer, true);
    return grpc::Status::OK;
  }

  grpc::Status WatchSession(grpc::ServerContext* context, const v1::WatchSessionRequest*,
                            grpc::ServerWriter<v1::WatchSessionResponse>* writer) override {
    Remember(context);
    auto tagged = [](const char* turn_id) {
      v1::WatchSessionResponse w;
      w.set_turn_id(turn_id);
      w.set_kind(v1::TURN_KIND_NARRATION);
      return w;
    };
    v1::WatchSessionResponse started = tagged("t-1");
    started.mutable_started()->set_turn_id("t-1");
    started.set_input("I push the door");
    v1::WatchSessionResponse delta = tagged("t-1");
    delta.mutable_delta()->set_seq(1);
    delta.mutable_delta()->set_text("It opens.");
    v1::WatchSessionResponse completed = tagged("t-1");
    completed.mutable_completed()->set_text("It opens.");
    v1::WatchSessionResponse ended = tagged("t-2");
    ended.mutable_ended()->set_status(static_cast<v1::TurnStatus>(kArchived));
    ended.mutable_ended()->set_reason("archived");
    for (const auto& w : {narrator_test::Newer(tagged("t-1")), started, delta,
                          narrator_test::Newer(tagged("t-1")), completed, ended,
                          narrator_test::Newer(tagged("t-3"))}) {
      writer->Write(w);
    }
    return grpc::Status::OK;
  }

  grpc::Status GetSession(grpc::ServerContext* context, const v1::GetSessionRequest* request,
                          v1::GetSessionResponse* response) override {
    Remember(context);
    response->mutable_session()->set_session_id(request->session_id());
    v1::Turn* turn = response->mutable_session()->add_recent_turns();
    turn->set_turn_id("old");
    turn->set_status(static_cast<v1::TurnStatus>(kArchived));
    turn->set_superseded(true);
    return grpc::Status::OK;
  }

  // The authorization and x-narrator-player metadata of the last call.
  std::pair<std::string, std::string> LastIdentity() {
    std::lock_guard<std::mutex> lock(mutex_);
    return identity_;
  }

 private:
  template <typename Response>
  static void WriteTurn(grpc::ServerWriter<Response>* writer, bool decision) {
    Response started, one, two, decided, completed;
    started.mutable_started()->set_turn_id("t-n");
    started.mutable_started()->set_provider("openai");
    one.mutable_delta()->set_seq(1);
    one.mutable_delta()->set_text("The door ");
    two.mutable_delta()->set_seq(2);
    two.mutable_delta()->set_text("creaks.");
    completed.mutable_completed()->set_text("The door creaks.");
    completed.mutable_completed()->mutable_usage()->set_cached_input_tokens(96);
    completed.mutable_completed()->mutable_usage()->set_estimated(true);
    v1::Recovery* recovery = completed.mutable_completed()->add_recoveries();
    recovery->set_after_seq(1);
    recovery->set_reason(static_cast<v1::RecoveryReason>(kArchived));
    std::vector<Response> stream{narrator_test::Newer<Response>(), started, one,
                                 narrator_test::Newer<Response>(), two};
    if constexpr (std::is_same_v<Response, v1::DecideResponse>) {
      if (decision) {
        decided.mutable_decision()->set_option_id("flee");
        decided.mutable_decision()->set_arguments_json("{}");
        stream.push_back(decided);
      }
    }
    stream.push_back(completed);
    stream.push_back(narrator_test::Newer<Response>());
    for (const auto& r : stream) writer->Write(r);
  }

  void Remember(grpc::ServerContext* context) {
    auto value = [&](const char* key) {
      auto it = context->client_metadata().find(key);
      return it == context->client_metadata().end() ? std::string()
                                                   : std::string(it->second.data(), it->second.size());
    };
    std::lock_guard<std::mutex> lock(mutex_);
    identity_ = {value("authorization"), value("x-narrator-player")};
  }

  std::mutex mutex_;
  std::pair<std::string, std::string> identity_;
};

// The newer server on a free port, and a client of it with a key and a player.
struct Fixture {
  Fixture() {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&service);
    server = builder.BuildAndStart();
    if (!server || port == 0) narrator_test::Fail(__FILE__, __LINE__, "the test server did not start");
    narrator::ClientOptions options;
    options.api_key = "nrk_test_secret";
    options.player = "alice";
    client = narrator::NarratorClient::Connect("127.0.0.1:" + std::to_string(port), options);
  }
  ~Fixture() { server->Shutdown(); }

  NewerService service;
  int port = 0;
  std::unique_ptr<grpc::Server> server;
  std::unique_ptr<narrator::NarratorClient> client;
};

}  // namespace

TEST_CASE(newer_server_events_are_skipped_by_the_blocking_calls) {
  Fixture f;
  int seen = 0;
  narrator::TurnResult narration =
      f.client->Narrate("s", "I push the door", v1::Scene(), [&](const v1::NarrateResponse& r) {
        CHECK(r.event_case() != v1::NarrateResponse::EVENT_NOT_SET);
        ++seen;
        return true;
      });
  CHECK_OK(narration.status);
  CHECK_EQ(seen, 4);  // started, 2 deltas, completed
  CHECK_EQ(narration.text, std::string("The door creaks."));
  CHECK_EQ(narration.completed.usage().cached_input_tokens(), 96u);
  CHECK(narration.completed.usage().estimated());
  CHECK_EQ(static_cast<int>(narration.completed.recoveries(0).reason()), kArchived);

  v1::DecideRequest request;
  request.set_session_id("s");
  narrator::TurnResult decision = f.client->Decide(request);
  CHECK_OK(decision.status);
  CHECK(decision.has_decision);
  CHECK_EQ(decision.decision.option_id(), std::string("flee"));
}

TEST_CASE(newer_server_events_are_skipped_by_the_read_loops) {
  Fixture f;
  auto stream = f.client->StartNarrate("s", "I push the door", v1::Scene());
  v1::NarrateResponse event;
  int read = 0;
  while (stream->Read(&event)) {
    CHECK(event.event_case() != v1::NarrateResponse::EVENT_NOT_SET);
    ++read;
  }
  CHECK_OK(stream->Finish());
  CHECK_EQ(read, 4);
  CHECK_EQ(stream->skipped(), 3u);

  std::vector<std::string> watched;
  grpc::Status status = f.client->Watch("s", [&](const v1::WatchSessionResponse& w) {
    CHECK(w.event_case() != v1::WatchSessionResponse::EVENT_NOT_SET);
    watched.push_back(w.turn_id() + ":" + std::to_string(static_cast<int>(w.event_case())));
    if (w.has_ended()) CHECK_EQ(static_cast<int>(w.ended().status()), kArchived);
    return true;
  });
  CHECK_OK(status);
  const std::vector<std::string> expected{"t-1:3", "t-1:4", "t-1:6", "t-2:7"};
  CHECK(watched == expected);

  v1::Session session;
  CHECK_OK(f.client->GetSession("s", 0, &session));
  CHECK_EQ(static_cast<int>(session.recent_turns(0).status()), kArchived);
  CHECK(session.recent_turns(0).superseded());
}

TEST_CASE(every_call_carries_the_key_and_the_player) {
  Fixture f;
  v1::Session session;
  CHECK_OK(f.client->GetSession("s", 0, &session));
  CHECK_EQ(f.service.LastIdentity().first, std::string("Bearer nrk_test_secret"));
  CHECK_EQ(f.service.LastIdentity().second, std::string("alice"));

  auto bob = f.client->WithPlayer("bob");
  CHECK_OK(bob->Narrate("s", "I wait", v1::Scene()).status);
  CHECK_EQ(f.service.LastIdentity().first, std::string("Bearer nrk_test_secret"));
  CHECK_EQ(f.service.LastIdentity().second, std::string("bob"));
  CHECK_OK(bob->Watch("s", nullptr));
  CHECK_EQ(f.service.LastIdentity().second, std::string("bob"));

  auto nobody = narrator::NarratorClient::Connect("127.0.0.1:" + std::to_string(f.port));
  CHECK_OK(nobody->GetSession("s", 0, &session));
  CHECK_EQ(f.service.LastIdentity().first, std::string());
  CHECK_EQ(f.service.LastIdentity().second, std::string());
}

TEST_CASE(a_key_or_player_that_cannot_travel_as_metadata_fails_without_a_call) {
  Fixture f;
  v1::Session session;
  CHECK_OK(f.client->GetSession("s", 0, &session));  // the fixture's own identity, seen last

  std::string error;
  narrator::ClientOptions options;
  options.player = "Zo\xc3\xab";
  CHECK(narrator::NarratorClient::Connect("127.0.0.1:" + std::to_string(f.port), options, &error) ==
        nullptr);
  CHECK(error.find("player") != std::string::npos);
  options.player.clear();
  options.api_key = "nrk_a b";
  CHECK(narrator::NarratorClient::Connect("127.0.0.1:" + std::to_string(f.port), options, &error) ==
        nullptr);
  CHECK(error.find("api_key") != std::string::npos);

  // gRPC aborts the process on such metadata: the client must never send it.
  auto bad = f.client->WithPlayer("line\nbreak");
  CHECK_CODE(bad->identity_status(), INVALID_ARGUMENT);
  CHECK_CODE(bad->GetSession("s", 0, &session), INVALID_ARGUMENT);
  CHECK_CODE(bad->Narrate("s", "I wait", v1::Scene()).status, INVALID_ARGUMENT);
  CHECK_CODE(bad->Watch("s", nullptr), INVALID_ARGUMENT);
  auto stream = bad->StartDecide(v1::DecideRequest());
  v1::DecideResponse event;
  CHECK(!stream->Read(&event));
  stream->Cancel();
  CHECK_CODE(stream->Finish(), INVALID_ARGUMENT);
  CHECK_EQ(f.service.LastIdentity().second, std::string("alice"));  // nothing reached the server
}
