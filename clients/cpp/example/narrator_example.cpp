// narrator_example [address]
//
// Plays one short session against a Narrator server, with a spectator
// watching it from another thread, lore, the context viewer, a re-roll and a
// save game, and checks the narrator.v1 stream contract on the way; exits
// non-zero on any failure.
//
// Address: the first argument, else $NARRATOR_ADDRESS, else 127.0.0.1:50051.
// Environment: NARRATOR_API_KEY (a key from `narrator keys create`),
// NARRATOR_PLAYER (the player to act for), NARRATOR_TLS_CA_FILE (TLS,
// trusting this CA), NARRATOR_TLS_CLIENT_CERT_FILE and
// NARRATOR_TLS_CLIENT_KEY_FILE (mTLS).
#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "narrator_client.h"

namespace v1 = narrator::v1;

namespace {

int Fail(const std::string& what, const grpc::Status& status) {
  std::cerr << "\nFAIL: " << what << ": " << narrator::DescribeStatus(status) << std::endl;
  return 1;
}

int Fail(const std::string& what) {
  std::cerr << "\nFAIL: " << what << std::endl;
  return 1;
}

std::string Env(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? std::string() : std::string(value);
}

// The key, player and TLS files the environment names.
narrator::ClientOptions OptionsFromEnv() {
  narrator::ClientOptions options;
  options.unary_deadline = std::chrono::seconds(10);
  options.stream_deadline = std::chrono::seconds(60);
  options.api_key = Env("NARRATOR_API_KEY");
  options.player = Env("NARRATOR_PLAYER");
  if (std::string ca = Env("NARRATOR_TLS_CA_FILE"); !ca.empty()) {
    options.tls.root_certificates = narrator::Pem::File(ca);
  }
  if (std::string cert = Env("NARRATOR_TLS_CLIENT_CERT_FILE"); !cert.empty()) {
    options.tls.certificate_chain = narrator::Pem::File(cert);
    options.tls.private_key = narrator::Pem::File(Env("NARRATOR_TLS_CLIENT_KEY_FILE"));
  }
  return options;
}

// A spectator: reads the session's WatchSession stream on its own thread
// (as a stream overlay or a text-to-speech service would) until the session
// is deleted, keeping "turn_id completed" / "turn_id ended" lines.
class Spectator {
 public:
  Spectator(narrator::NarratorClient& client, const std::string& session_id)
      : stream_(client.StartWatch(session_id)), thread_([this] { Run(); }) {}
  ~Spectator() {
    if (thread_.joinable()) {
      stream_->Cancel();
      thread_.join();
    }
  }

  // Waits for the end of the watch; its status.
  grpc::Status Join() {
    thread_.join();
    return status_;
  }
  const std::vector<std::string>& turns() const { return turns_; }

 private:
  void Run() {
    narrator::WatchChecker checker;
    v1::WatchSessionResponse event;
    while (stream_->Read(&event)) {
      if (!checker.Feed(event)) {
        stream_->Cancel();
        stream_->Finish();
        status_ = grpc::Status(grpc::StatusCode::DATA_LOSS, "watch: " + checker.error());
        return;
      }
      if (event.has_completed()) turns_.push_back(event.turn_id() + " completed");
      if (event.has_ended()) turns_.push_back(event.turn_id() + " ended");
    }
    status_ = stream_->Finish();
  }

  std::unique_ptr<narrator::EventStream<v1::WatchSessionResponse>> stream_;
  grpc::Status status_;
  std::vector<std::string> turns_;
  std::thread thread_;
};

std::string Trim(const std::string& s) {
  const char* ws = " \t\r\n";
  auto begin = s.find_first_not_of(ws);
  if (begin == std::string::npos) return "";
  return s.substr(begin, s.find_last_not_of(ws) - begin + 1);
}

v1::Scene CryptScene() {
  v1::Scene scene;
  scene.set_location("the flooded crypt");
  v1::Character* goblin = scene.add_characters();
  goblin->set_name("Grub the goblin chief");
  goblin->set_description("a scarred goblin with a rusty spear");
  goblin->set_disposition("hostile");
  scene.add_facts("the water reaches the player's knees");
  scene.add_facts("the torch is almost out");
  (*scene.mutable_attributes())["time_of_day"] = "midnight";
  (*scene.mutable_attributes())["player_health"] = "7/10";
  return scene;
}

}  // namespace

int main(int argc, char** argv) {
  std::string address = "127.0.0.1:50051";
  if (const char* env = std::getenv("NARRATOR_ADDRESS"); env != nullptr && *env != '\0') {
    address = env;
  }
  if (argc > 1) address = argv[1];
  std::cout << "narrator_example: server " << address << std::endl;

  narrator::ClientOptions options = OptionsFromEnv();
  std::cout << "narrator_example: " << (options.tls.active() ? "TLS" : "plaintext")
            << (options.tls.certificate_chain.empty() ? "" : " with a client certificate")
            << (options.api_key.empty() ? ", no API key" : ", API key") << std::endl;
  std::string error;
  auto client = narrator::NarratorClient::Connect(address, options, &error);
  if (!client) return Fail("Connect: " + error);

  // 1. A session.
  v1::Session session;
  grpc::Status status = client->CreateSession(
      "a drowned city ruled by smugglers", "grim", "Aldric",
      "a disgraced knight with a cursed blade", /*seed=*/42, &session);
  if (!status.ok()) return Fail("CreateSession", status);
  if (session.session_id().empty()) return Fail("CreateSession returned no session_id");
  std::cout << "session " << session.session_id() << " (seed " << session.seed() << ")"
            << std::endl;

  const v1::Scene scene = CryptScene();
  Spectator spectator(*client, session.session_id());

  // Lore: the narrator is told about the chief whenever a turn names it.
  v1::LoreEntry chief;
  chief.add_keys("goblin chief");
  chief.set_content("The goblin chief, Grub, fears fire and owes the smugglers money.");
  v1::LoreEntry stored_lore;
  status = client->PutLoreEntry(session.session_id(), chief, &stored_lore);
  if (!status.ok()) return Fail("PutLoreEntry", status);

  // 2. Narrate one turn with the blocking callback API, printing each delta
  //    as it arrives. The wrapper checks the stream (TurnChecker); the
  //    example checks seq and the concatenation again on its own.
  uint32_t expected_seq = 1;
  std::string printed;
  bool seq_ok = true;
  std::cout << "\n--- narration ---\n" << std::flush;
  narrator::TurnResult narration = client->Narrate(
      session.session_id(), "I raise my torch and step toward the goblin chief", scene,
      [&](const v1::NarrateResponse& event) {
        if (event.has_started()) {
          std::cout << "[turn " << event.started().turn_id() << ", " << event.started().provider()
                    << "/" << event.started().model() << "]\n";
        } else if (event.has_delta()) {
          if (event.delta().seq() != expected_seq) seq_ok = false;
          ++expected_seq;
          printed += event.delta().text();
          std::cout << event.delta().text() << std::flush;
        }
        return true;  // false would cancel the turn
      });
  std::cout << "\n-----------------" << std::endl;
  if (!narration.ok()) return Fail("Narrate", narration.status);
  if (!seq_ok) return Fail("Narrate: delta seq is not 1..n without gaps");
  if (narration.delta_count == 0) return Fail("Narrate: no TextDelta");
  if (printed != narration.completed.text()) {
    return Fail("Narrate: the deltas do not concatenate to TurnCompleted.text");
  }
  std::cout << "narration ok: " << narration.delta_count << " deltas, "
            << narration.completed.text().size() << " bytes, finish_reason "
            << v1::FinishReason_Name(narration.completed.finish_reason()) << ", usage "
            << narration.completed.usage().input_tokens() << " in / "
            << narration.completed.usage().output_tokens() << " out" << std::endl;

  // What the narrator knew: the turn's prompt, section by section.
  v1::GetTurnContextResponse context;
  status = client->GetTurnContext(session.session_id(), narration.started.turn_id(), &context);
  if (!status.ok()) return Fail("GetTurnContext", status);
  bool lore_in_prompt = false;
  for (const v1::ContextSection& section : context.sections()) {
    std::cout << "  " << v1::ContextSectionKind_Name(section.kind()) << " " << section.tokens()
              << " tokens: " << section.title() << "\n";
    lore_in_prompt |= section.lore_entry_id() == stored_lore.entry_id();
  }
  std::cout << "  " << context.total_tokens() << " of " << context.budget_tokens() << " tokens"
            << std::endl;
  if (!lore_in_prompt) return Fail("GetTurnContext: the goblin chief's lore is not in the prompt");

  // 3. A decision, with the iterator-like Read loop.
  v1::DecideRequest decide;
  decide.set_session_id(session.session_id());
  decide.set_question("What does the goblin chief do?");
  {
    v1::DecisionOption* attack = decide.add_options();
    attack->set_id("attack");
    attack->set_description("the goblin chief attacks a target with its spear");
    attack->set_arguments_schema(
        R"({"type":"object","properties":{"target":{"type":"string"}},"required":["target"]})");
    v1::DecisionOption* flee = decide.add_options();
    flee->set_id("flee");
    flee->set_description("the goblin chief flees into the dark water");
    v1::DecisionOption* parley = decide.add_options();
    parley->set_id("parley");
    parley->set_description("the goblin chief lowers its spear and offers a deal");
  }
  decide.set_default_option_id("parley");
  *decide.mutable_scene() = scene;
  std::set<std::string> allowed;
  for (const auto& option : decide.options()) allowed.insert(option.id());

  std::cout << "\n--- decision ---\n" << std::flush;
  auto stream = client->StartDecide(decide);
  narrator::TurnChecker checker(/*expect_decision=*/true);
  v1::DecideResponse event;
  v1::Decision decision;
  std::string decision_turn_id;
  while (stream->Read(&event)) {
    if (!checker.Feed(event)) {
      stream->Cancel();
      stream->Finish();
      return Fail("Decide stream broke the contract: " + checker.error());
    }
    if (event.has_started()) decision_turn_id = event.started().turn_id();
    if (event.has_delta()) std::cout << event.delta().text() << std::flush;
    if (event.has_decision()) decision = event.decision();
  }
  status = stream->Finish();
  std::cout << "\n----------------" << std::endl;
  if (!status.ok()) return Fail("Decide", status);
  if (!checker.Finish()) return Fail("Decide stream broke the contract: " + checker.error());
  if (allowed.count(decision.option_id()) == 0) {
    return Fail("Decide: option_id '" + decision.option_id() + "' is not one of the options");
  }
  const std::string args = Trim(decision.arguments_json());
  if (args.empty() || args.front() != '{' || args.back() != '}') {
    return Fail("Decide: arguments_json is not a JSON object: '" + decision.arguments_json() + "'");
  }
  if (decision.option_id() != "attack" && args != "{}") {
    return Fail("Decide: option '" + decision.option_id() + "' takes no arguments but got " +
                decision.arguments_json());
  }
  if (decision.option_id() == "attack" && args.find("\"target\"") == std::string::npos) {
    return Fail("Decide: 'attack' arguments lack the required target: " + decision.arguments_json());
  }
  std::cout << "decision: " << decision.option_id() << " " << decision.arguments_json() << " ("
            << v1::DecisionSource_Name(decision.source()) << ", " << checker.delta_count()
            << " rationale deltas)" << std::endl;

  // 4. Re-roll the decision: regenerate replaces the session's last turn;
  //    the replaced one stays readable, marked superseded.
  decide.set_regenerate(true);
  narrator::TurnResult reroll = client->Decide(decide);
  if (!reroll.ok()) return Fail("Decide with regenerate", reroll.status);
  std::cout << "re-rolled decision: " << reroll.decision.option_id() << " "
            << reroll.decision.arguments_json() << std::endl;

  // 5. The session now holds three turns, the first decision superseded.
  v1::Session stored;
  status = client->GetSession(session.session_id(), 0, &stored);
  if (!status.ok()) return Fail("GetSession", status);
  if (stored.turn_count() != 3) {
    return Fail("GetSession: turn_count " + std::to_string(stored.turn_count()) + ", expected 3");
  }
  const v1::Turn& replaced = stored.recent_turns(1);
  const v1::Turn& replacement = stored.recent_turns(2);
  if (replaced.turn_id() != decision_turn_id || !replaced.superseded() ||
      replacement.replaces_turn_id() != decision_turn_id || replacement.superseded()) {
    return Fail("GetSession: the regenerated decision is not marked as replaced");
  }

  // 6. Skip a narration: returning false from the handler cancels the call
  //    (the server stores the turn as cancelled with the text sent so far).
  narrator::TurnResult skipped = client->Narrate(
      session.session_id(), "I wait and listen", scene,
      [](const v1::NarrateResponse& event) { return !event.has_delta(); });
  if (skipped.status.error_code() != grpc::StatusCode::CANCELLED) {
    return Fail("Narrate cancelled after the first delta: expected CANCELLED", skipped.status);
  }
  std::cout << "skipped narration after " << skipped.delta_count << " delta(s): "
            << narrator::DescribeStatus(skipped.status) << std::endl;

  // 7. A save game: export the session, load it as a new one.
  std::string save;
  status = client->ExportSession(session.session_id(), &save);
  if (!status.ok()) return Fail("ExportSession", status);
  v1::Session loaded;
  status = client->ImportSession(save, &loaded);
  if (!status.ok()) return Fail("ImportSession", status);
  if (loaded.session_id() == session.session_id() || loaded.turn_count() != 4) {
    return Fail("ImportSession: expected a new session with the 4 turns, got " +
                std::to_string(loaded.turn_count()));
  }
  std::cout << "save game: " << save.size() << " bytes, loaded as session " << loaded.session_id()
            << std::endl;
  status = client->DeleteSession(loaded.session_id());
  if (!status.ok()) return Fail("DeleteSession of the loaded save", status);

  // 8. Delete the session: the spectator's watch ends; a second delete is
  //    NOT_FOUND.
  status = client->DeleteSession(session.session_id());
  if (!status.ok()) return Fail("DeleteSession", status);
  status = spectator.Join();
  if (!status.ok()) return Fail("WatchSession", status);
  std::cout << "the spectator saw:";
  for (const std::string& turn : spectator.turns()) std::cout << " [" << turn << "]";
  std::cout << std::endl;
  // The watch was asked for before the first turn and the server registers
  // it a moment later: a very fast first turn may end before it is seen.
  // Every later turn is seen, the skipped one as ended.
  const std::vector<std::string> later{decision_turn_id + " completed",
                                       reroll.started.turn_id() + " completed",
                                       skipped.started.turn_id() + " ended"};
  const auto& seen = spectator.turns();
  if (seen.size() < later.size() ||
      !std::equal(later.begin(), later.end(), seen.end() - static_cast<long>(later.size()))) {
    return Fail("WatchSession: the spectator did not see the later turns end");
  }
  status = client->DeleteSession(session.session_id());
  if (status.error_code() != grpc::StatusCode::NOT_FOUND) {
    return Fail("DeleteSession of a deleted session: expected NOT_FOUND", status);
  }
  std::cout << "session deleted; second delete: " << narrator::DescribeStatus(status) << std::endl;

  std::cout << "narrator_example: OK" << std::endl;
  return 0;
}
