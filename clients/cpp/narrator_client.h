// NarratorClient: a small synchronous wrapper around narrator.v1.NarratorService.
//
// Copy narrator_client.h/.cpp next to the generated code
// (narrator/v1/*.pb.{h,cc}, narrator/v1/narrator_service.grpc.pb.{h,cc}).
//
// Every call blocks the calling thread: in a game, call it from a worker
// thread (never the game/render thread) and marshal the events to the game
// thread. A NarratorClient may be shared between threads; a TurnStream must
// be read from one thread at a time (Cancel() may be called from any thread).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <grpcpp/grpcpp.h>

#include "narrator/v1/narrator_service.grpc.pb.h"

namespace narrator {

// Deadlines applied to every call (from the moment the call starts).
struct ClientOptions {
  // CreateSession, GetSession, DeleteSession.
  std::chrono::milliseconds unary_deadline{10'000};
  // A whole Narrate/Decide stream, first message to TurnCompleted.
  std::chrono::milliseconds stream_deadline{120'000};
  // false: fail fast with UNAVAILABLE when the server cannot be reached.
  // true: wait (up to the deadline) for the channel to connect.
  bool wait_for_ready = false;
};

// Checks one streamed turn against the contract (TurnStarted; TextDelta
// seq 1, 2, 3 ... without gaps; for Decide one Decision; exactly one
// TurnCompleted whose text is the concatenation of the deltas) and
// assembles its text. Feed it every message of the stream in order.
class TurnChecker {
 public:
  explicit TurnChecker(bool expect_decision) : expect_decision_(expect_decision) {}

  // Each returns false, and sets error(), on the first violation.
  bool Feed(const v1::NarrateResponse& response);
  bool Feed(const v1::DecideResponse& response);
  // Call once the stream ended with an OK status: a TurnCompleted must
  // have been received.
  bool Finish();

  const std::string& error() const { return error_; }
  bool ok() const { return error_.empty(); }
  // The deltas so far, concatenated.
  const std::string& text() const { return text_; }
  uint32_t delta_count() const { return last_seq_; }
  bool completed() const { return stage_ == Stage::kCompleted; }

 private:
  enum class Stage { kWaiting, kStarted, kDecided, kCompleted };
  bool OnStarted(const v1::TurnStarted& started);
  bool OnDelta(const v1::TextDelta& delta);
  bool OnDecision(const v1::Decision& decision);
  bool OnCompleted(const v1::TurnCompleted& completed);
  bool Fail(std::string message);

  bool expect_decision_;
  Stage stage_ = Stage::kWaiting;
  uint32_t last_seq_ = 0;
  std::string text_;
  std::string error_;
};

// The outcome of a blocking Narrate/Decide call.
struct TurnResult {
  // OK, the server's error status, CANCELLED when the handler stopped the
  // turn, or DATA_LOSS when the stream broke the contract.
  grpc::Status status;
  v1::TurnStarted started;
  // The concatenated deltas; partial when status is not OK.
  std::string text;
  uint32_t delta_count = 0;
  // Decide only.
  bool has_decision = false;
  v1::Decision decision;
  // Set when status is OK.
  v1::TurnCompleted completed;

  bool ok() const { return status.ok(); }
};

// An open server stream with an iterator-like Read loop:
//
//   auto stream = client.StartNarrate(session_id, action, scene);
//   v1::NarrateResponse event;
//   while (stream->Read(&event)) { ... }
//   grpc::Status status = stream->Finish();
template <typename Response>
class TurnStream {
 public:
  using Reader = grpc::ClientReader<Response>;
  TurnStream(std::unique_ptr<grpc::ClientContext> context, std::unique_ptr<Reader> reader)
      : context_(std::move(context)), reader_(std::move(reader)) {}
  TurnStream(const TurnStream&) = delete;
  TurnStream& operator=(const TurnStream&) = delete;
  ~TurnStream() {
    if (!finished_) {
      Cancel();
      Finish();
    }
  }

  // Blocks for the next message; false at the end of the stream (then call
  // Finish for the status).
  bool Read(Response* response) { return !finished_ && reader_->Read(response); }
  // Stops the turn (the server stores it as cancelled). Thread-safe; the
  // pending Read returns false and Finish returns CANCELLED.
  void Cancel() { context_->TryCancel(); }
  // The final status; drains unread messages first. Call once.
  grpc::Status Finish() {
    if (finished_) return status_;
    Response ignored;
    while (reader_->Read(&ignored)) {
    }
    status_ = reader_->Finish();
    finished_ = true;
    return status_;
  }

 private:
  std::unique_ptr<grpc::ClientContext> context_;
  std::unique_ptr<Reader> reader_;
  bool finished_ = false;
  grpc::Status status_;
};

class NarratorClient {
 public:
  // Return false to cancel the turn.
  using NarrateHandler = std::function<bool(const v1::NarrateResponse&)>;
  using DecideHandler = std::function<bool(const v1::DecideResponse&)>;

  explicit NarratorClient(std::shared_ptr<grpc::Channel> channel, ClientOptions options = {});
  // Plaintext channel to host:port (use the other constructor for TLS).
  static std::unique_ptr<NarratorClient> Connect(const std::string& address,
                                                 ClientOptions options = {});

  const ClientOptions& options() const { return options_; }
  v1::NarratorService::Stub& stub() { return *stub_; }

  // Unary calls.
  grpc::Status CreateSession(const v1::CreateSessionRequest& request, v1::Session* session);
  grpc::Status CreateSession(const std::string& world, const std::string& tone,
                             const std::string& player_name,
                             const std::string& player_description, uint64_t seed,
                             v1::Session* session);
  grpc::Status GetSession(const std::string& session_id, uint32_t recent_turn_limit,
                          v1::Session* session);
  grpc::Status DeleteSession(const std::string& session_id);

  // Streamed turns, blocking: on_event sees every message in order (the
  // stream is checked with a TurnChecker). Returns when the turn ends.
  TurnResult Narrate(const std::string& session_id, const std::string& action,
                     const v1::Scene& scene, const NarrateHandler& on_event = nullptr);
  TurnResult Decide(const v1::DecideRequest& request, const DecideHandler& on_event = nullptr);

  // Streamed turns, Read loop (see TurnStream).
  std::unique_ptr<TurnStream<v1::NarrateResponse>> StartNarrate(const std::string& session_id,
                                                                const std::string& action,
                                                                const v1::Scene& scene);
  std::unique_ptr<TurnStream<v1::DecideResponse>> StartDecide(const v1::DecideRequest& request);

 private:
  std::unique_ptr<grpc::ClientContext> NewContext(std::chrono::milliseconds deadline) const;

  ClientOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::NarratorService::Stub> stub_;
};

// "NOT_FOUND: session abc not found [BadRequest action: ...] [RetryInfo 2.5s]":
// the code, the message and the google.rpc details the server attached.
std::string DescribeStatus(const grpc::Status& status);
// The RetryInfo delay of a RESOURCE_EXHAUSTED status, if the server sent one.
std::optional<std::chrono::milliseconds> RetryDelay(const grpc::Status& status);
// "NOT_FOUND", "UNAVAILABLE", ...
const char* StatusCodeName(grpc::StatusCode code);

}  // namespace narrator
