// NarratorClient: a small synchronous wrapper around narrator.v1.NarratorService.
//
// Copy narrator_client.h and the four narrator_*.cpp files next to the
// generated code (narrator/v1/*.pb.{h,cc},
// narrator/v1/narrator_service.grpc.pb.{h,cc}).
//
// Every call blocks the calling thread: in a game, call it from a worker
// thread (never the game/render thread) and marshal the events to the game
// thread. A NarratorClient may be shared between threads; an EventStream must
// be read from one thread at a time (Cancel() may be called from any thread).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "narrator/v1/narrator_service.grpc.pb.h"

namespace narrator {

// PEM material, given as its text or as the path of a file read at Connect.
struct Pem {
  std::string text;  // the PEM text itself ("-----BEGIN CERTIFICATE-----...")
  std::string file;  // or a path to a PEM file (set one of the two)

  static Pem Text(std::string pem) { return Pem{std::move(pem), {}}; }
  static Pem File(std::string path) { return Pem{{}, std::move(path)}; }
  bool empty() const { return text.empty() && file.empty(); }
};

// TLS to a server started with NARRATOR_TLS_CERT_FILE (and, for mTLS,
// NARRATOR_TLS_CLIENT_CA_FILE). Setting any PEM turns TLS on.
struct TlsOptions {
  // true: TLS even with no PEM set (trusting the system's roots).
  bool enabled = false;
  // The CA that signed the server's certificate; empty: the system's roots.
  Pem root_certificates;
  // mTLS: this client's certificate chain and its (unencrypted) private key.
  Pem certificate_chain;
  Pem private_key;
  // The name checked against the server's certificate when the address
  // names the server otherwise (e.g. an IP the certificate lacks).
  std::string server_name;

  bool active() const {
    return enabled || !root_certificates.empty() || !certificate_chain.empty() ||
           !private_key.empty();
  }
};

struct ClientOptions {
  // Deadlines, from the moment each call starts.
  // CreateSession, GetSession, DeleteSession.
  std::chrono::milliseconds unary_deadline{10'000};
  // A whole Narrate/Decide stream, first message to TurnCompleted.
  std::chrono::milliseconds stream_deadline{120'000};
  // A WatchSession stream; 0 (the default): none, it lasts until cancelled
  // or the session is deleted.
  std::chrono::milliseconds watch_deadline{0};
  // false: fail fast with UNAVAILABLE when the server cannot be reached.
  // true: wait (up to the deadline) for the channel to connect.
  bool wait_for_ready = false;

  // Sent as "authorization: Bearer <api_key>" on every call (a key from
  // `narrator keys create`); empty: none.
  std::string api_key;
  // The player a game backend acts for, sent as "x-narrator-player" on every
  // call (per-player quotas); empty: none. Printable ASCII, as the key: both
  // travel as gRPC metadata. See NarratorClient::WithPlayer.
  std::string player;
  // Used by Connect; a channel given to the constructor has its own.
  TlsOptions tls;
};

// Checks one streamed turn against the contract (TurnStarted; TextDelta
// seq 1, 2, 3 ... without gaps; for Decide one Decision; exactly one
// TurnCompleted whose text is the concatenation of the deltas) and
// assembles its text. Feed it every message of the stream in order; a
// message whose event this client does not know (a newer server's) is
// skipped.
//
// A resumed stream (TurnStarted.resumed, after a call with a turn_id and
// resume_after_seq = N) starts at seq N + 1, and TurnCompleted.text (the
// whole turn) must end with the deltas received.
class TurnChecker {
 public:
  explicit TurnChecker(bool expect_decision, uint32_t resume_after_seq = 0)
      : expect_decision_(expect_decision), resume_after_seq_(resume_after_seq) {}

  // Each returns false, and sets error(), on the first violation.
  bool Feed(const v1::NarrateResponse& response);
  bool Feed(const v1::DecideResponse& response);
  // The events of one watched turn (WatchChecker feeds them).
  bool Feed(const v1::WatchSessionResponse& response);
  // Call once the stream ended with an OK status: a TurnCompleted must
  // have been received.
  bool Finish();

  const std::string& error() const { return error_; }
  bool ok() const { return error_.empty(); }
  // The deltas received, concatenated (for a resumed stream, the end of the
  // turn only; TurnCompleted.text has it all).
  const std::string& text() const { return text_; }
  uint32_t delta_count() const { return delta_count_; }
  bool completed() const { return stage_ == Stage::kCompleted; }
  bool resumed() const { return resumed_; }
  // Messages skipped because their event is unknown to this client.
  uint32_t skipped() const { return skipped_; }

 private:
  enum class Stage { kWaiting, kStarted, kDecided, kCompleted };
  bool OnStarted(const v1::TurnStarted& started);
  bool OnDelta(const v1::TextDelta& delta);
  bool OnDecision(const v1::Decision& decision);
  bool OnCompleted(const v1::TurnCompleted& completed);
  bool Skip();
  bool Fail(std::string message);

  bool expect_decision_;
  uint32_t resume_after_seq_;
  Stage stage_ = Stage::kWaiting;
  bool resumed_ = false;
  uint32_t last_seq_ = 0;
  uint32_t delta_count_ = 0;
  uint32_t skipped_ = 0;
  std::string text_;
  std::string error_;
};

// Checks a WatchSession stream: each turn as a TurnChecker does (a decision
// turn must decide), or ended by TurnEnded; every event carries the turn_id
// its TurnStarted named. The stream may end at any time, and TurnEnded may
// come for a turn whose start was never seen.
class WatchChecker {
 public:
  bool Feed(const v1::WatchSessionResponse& response);
  const std::string& error() const { return error_; }
  bool ok() const { return error_.empty(); }
  // The turn in progress ("" between turns).
  const std::string& turn_id() const { return turn_id_; }
  uint32_t turns_completed() const { return completed_; }
  uint32_t turns_ended() const { return ended_; }

 private:
  bool Fail(std::string message);
  std::optional<TurnChecker> turn_;
  std::string turn_id_;
  uint32_t completed_ = 0;
  uint32_t ended_ = 0;
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

// An open server stream (Narrate, Decide or WatchSession) with an
// iterator-like Read loop:
//
//   auto stream = client.StartNarrate(session_id, action, scene);
//   v1::NarrateResponse event;
//   while (stream->Read(&event)) { ... }
//   grpc::Status status = stream->Finish();
//
// Read skips messages whose event this client does not know (a newer
// server's), so every message it returns has its event set.
template <typename Response>
class EventStream {
 public:
  using Reader = grpc::ClientReader<Response>;
  EventStream(std::unique_ptr<grpc::ClientContext> context, std::unique_ptr<Reader> reader)
      : context_(std::move(context)), reader_(std::move(reader)) {}
  // A stream that failed before any call was made: Read returns false,
  // Finish returns `status`.
  explicit EventStream(grpc::Status status) : finished_(true), status_(std::move(status)) {}
  EventStream(const EventStream&) = delete;
  EventStream& operator=(const EventStream&) = delete;
  ~EventStream() {
    if (!finished_) {
      Cancel();
      Finish();
    }
  }

  // Blocks for the next message; false at the end of the stream (then call
  // Finish for the status).
  bool Read(Response* response) {
    while (!finished_ && reader_->Read(response)) {
      if (response->event_case() != Response::EVENT_NOT_SET) return true;
      ++skipped_;
    }
    return false;
  }
  // Stops the call (for a turn: the server stores it as cancelled).
  // Thread-safe; the pending Read returns false and Finish returns CANCELLED.
  void Cancel() {
    if (context_) context_->TryCancel();
  }
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
  // Messages skipped because their event is unknown to this client.
  uint32_t skipped() const { return skipped_; }

 private:
  std::unique_ptr<grpc::ClientContext> context_;
  std::unique_ptr<Reader> reader_;
  bool finished_ = false;
  uint32_t skipped_ = 0;
  grpc::Status status_;
};

// The name the turn streams had before WatchSession joined them.
template <typename Response>
using TurnStream = EventStream<Response>;

// The largest response a channel made by NarratorClient::Connect accepts.
constexpr int kMaxReceiveBytes = 9 * 1024 * 1024;

class NarratorClient {
 public:
  // Return false to cancel the turn (or to stop watching).
  using NarrateHandler = std::function<bool(const v1::NarrateResponse&)>;
  using DecideHandler = std::function<bool(const v1::DecideResponse&)>;
  using WatchHandler = std::function<bool(const v1::WatchSessionResponse&)>;

  // Over a channel you made (its credentials are yours; options.tls is not
  // used); the API key and player of options go with every call. A key or
  // player that cannot travel as metadata (not printable ASCII) makes every
  // call fail with INVALID_ARGUMENT, sending nothing (gRPC would abort the
  // process on it).
  explicit NarratorClient(std::shared_ptr<grpc::Channel> channel, ClientOptions options = {});
  // A channel to host:port: plaintext, or TLS/mTLS per options.tls, taking
  // responses up to kMaxReceiveBytes. Returns
  // nullptr, with *error set when given, when a PEM file cannot be read, the
  // TLS options do not go together, or the key or player is not printable
  // ASCII.
  static std::unique_ptr<NarratorClient> Connect(const std::string& address,
                                                 ClientOptions options = {},
                                                 std::string* error = nullptr);
  // The same client (same channel and options) acting for another player:
  // its calls count against that player's quotas.
  std::unique_ptr<NarratorClient> WithPlayer(const std::string& player) const;
  // OK, or why every call fails without being sent (see the constructor).
  const grpc::Status& identity_status() const { return identity_status_; }

  const ClientOptions& options() const { return options_; }
  v1::NarratorService::Stub& stub() { return *stub_; }
  // A context with the deadline, wait_for_ready, API key and player of the
  // options, for calls made on stub() directly (without the key and player
  // when identity_status() is not OK).
  std::unique_ptr<grpc::ClientContext> NewContext(std::chrono::milliseconds deadline) const;

  // Unary calls.
  grpc::Status CreateSession(const v1::CreateSessionRequest& request, v1::Session* session);
  grpc::Status CreateSession(const std::string& world, const std::string& tone,
                             const std::string& player_name,
                             const std::string& player_description, uint64_t seed,
                             v1::Session* session);
  grpc::Status GetSession(const std::string& session_id, uint32_t recent_turn_limit,
                          v1::Session* session);
  grpc::Status DeleteSession(const std::string& session_id);

  // Memory: lore entries, turn contexts, save games (see docs/memory.md).
  // Adds a lore entry (entry.entry_id() empty) or replaces one; *stored gets
  // it as stored, with its entry_id and update_time.
  grpc::Status PutLoreEntry(const std::string& session_id, const v1::LoreEntry& entry,
                            v1::LoreEntry* stored);
  // One page of the session's lore (by priority, then most recently
  // updated); page_size 0: 100. Pass page->next_page_token() back for the next.
  grpc::Status ListLoreEntries(const std::string& session_id, uint32_t page_size,
                               const std::string& page_token, v1::ListLoreEntriesResponse* page);
  // Every page of it, appended to *entries.
  grpc::Status ListAllLoreEntries(const std::string& session_id,
                                  std::vector<v1::LoreEntry>* entries);
  grpc::Status DeleteLoreEntry(const std::string& session_id, const std::string& entry_id);
  // The prompt sections a turn's model request held; turn_id "" previews
  // the next turn's.
  grpc::Status GetTurnContext(const std::string& session_id, const std::string& turn_id,
                              v1::GetTurnContextResponse* context);
  // The session as a save game (a JSON document), and a new session from one.
  grpc::Status ExportSession(const std::string& session_id, std::string* document);
  grpc::Status ImportSession(const std::string& document, v1::Session* session);

  // Streamed turns, blocking: on_event sees every message in order (the
  // stream is checked with a TurnChecker). Returns when the turn ends. The
  // request forms take turn_id, resume_after_seq and regenerate.
  TurnResult Narrate(const std::string& session_id, const std::string& action,
                     const v1::Scene& scene, const NarrateHandler& on_event = nullptr);
  TurnResult Narrate(const v1::NarrateRequest& request, const NarrateHandler& on_event = nullptr);
  TurnResult Decide(const v1::DecideRequest& request, const DecideHandler& on_event = nullptr);

  // Streamed turns, Read loop (see EventStream).
  std::unique_ptr<EventStream<v1::NarrateResponse>> StartNarrate(const std::string& session_id,
                                                                 const std::string& action,
                                                                 const v1::Scene& scene);
  std::unique_ptr<EventStream<v1::NarrateResponse>> StartNarrate(const v1::NarrateRequest& request);
  std::unique_ptr<EventStream<v1::DecideResponse>> StartDecide(const v1::DecideRequest& request);

  // WatchSession: every turn of the session as it happens (each message
  // carries its turn_id and kind; a turn is started, deltas, (decision),
  // completed, or ended when it stopped without completing). The stream ends
  // OK when the session is deleted, RESOURCE_EXHAUSTED when this watcher
  // fell too far behind (watch again), NOT_FOUND for an unknown session.
  std::unique_ptr<EventStream<v1::WatchSessionResponse>> StartWatch(const std::string& session_id);
  // Blocking form, checked with a WatchChecker: returns when the stream ends
  // (OK when the session was deleted), CANCELLED when on_event returned
  // false, DATA_LOSS when the stream broke the contract.
  grpc::Status Watch(const std::string& session_id, const WatchHandler& on_event);

 private:
  template <typename Request, typename Response, typename Call>
  grpc::Status Unary(Call call, const Request& request, Response* response);
  template <typename Response, typename Request, typename Call>
  std::unique_ptr<EventStream<Response>> Start(std::chrono::milliseconds deadline,
                                               const Request& request, Call call);

  ClientOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::NarratorService::Stub> stub_;
  grpc::Status identity_status_;
};

// OK, or INVALID_ARGUMENT when the key or player cannot travel as gRPC
// metadata (printable ASCII; no spaces in the key).
grpc::Status CheckIdentity(const ClientOptions& options);

// The credentials and channel arguments TLS options ask for (insecure ones
// when TLS is off). INVALID_ARGUMENT when a file cannot be read or a
// certificate chain comes without its key (or the reverse).
grpc::Status MakeChannelCredentials(const TlsOptions& tls,
                                    std::shared_ptr<grpc::ChannelCredentials>* credentials,
                                    grpc::ChannelArguments* arguments);

// A quota the caller is over (google.rpc.QuotaFailure, RESOURCE_EXHAUSTED).
struct QuotaViolation {
  std::string limit;    // "requests_per_minute", "tokens_per_minute", "tokens_per_day",
                        // "player_requests_per_minute" (the violation's quota_id)
  std::string subject;  // "key:<id>", "player:<name>" or "session:<id>"
  int64_t value = 0;    // the limit (quota_value)
  std::string description;
};

// A field the server refused (google.rpc.BadRequest, INVALID_ARGUMENT).
struct FieldViolation {
  std::string field;
  std::string description;
};

// "NOT_FOUND: session abc not found [BadRequest action: ...] [RetryInfo 2.5s]":
// the code, the message and the google.rpc details the server attached.
std::string DescribeStatus(const grpc::Status& status);
// The RetryInfo delay of a RESOURCE_EXHAUSTED or UNAVAILABLE status, if the
// server sent one.
std::optional<std::chrono::milliseconds> RetryDelay(const grpc::Status& status);
// The QuotaFailure violations of a status (empty when there are none).
std::vector<QuotaViolation> QuotaViolations(const grpc::Status& status);
// The BadRequest field violations of a status (empty when there are none).
std::vector<FieldViolation> FieldViolations(const grpc::Status& status);
// "NOT_FOUND", "UNAVAILABLE", ...
const char* StatusCodeName(grpc::StatusCode code);

}  // namespace narrator
