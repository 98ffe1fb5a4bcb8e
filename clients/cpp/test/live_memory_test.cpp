// Lore, turn contexts and save games against the real server ci.sh starts
// (the environment of live_server_test.cpp; skipped without it).
#include <algorithm>
#include <cstdlib>

#include "check.h"

namespace v1 = narrator::v1;

namespace {

std::unique_ptr<narrator::NarratorClient> LiveClient() {
  auto env = [](const char* name) {
    const char* value = std::getenv(name);
    return value == nullptr ? std::string() : std::string(value);
  };
  if (env("NARRATOR_ADDRESS").empty() || env("NARRATOR_API_KEY").empty()) {
    const char* why = "needs the keyed mTLS server of ci.sh (NARRATOR_ADDRESS, ...)";
    if (!env("NARRATOR_TEST_REQUIRE_LIVE").empty()) narrator_test::Fail(__FILE__, __LINE__, why);
    SKIP(why);
  }
  narrator::ClientOptions options;
  options.api_key = env("NARRATOR_API_KEY");
  options.tls.root_certificates = narrator::Pem::File(env("NARRATOR_TLS_CA_FILE"));
  options.tls.certificate_chain = narrator::Pem::File(env("NARRATOR_TLS_CLIENT_CERT_FILE"));
  options.tls.private_key = narrator::Pem::File(env("NARRATOR_TLS_CLIENT_KEY_FILE"));
  std::string error;
  auto client = narrator::NarratorClient::Connect(env("NARRATOR_ADDRESS"), options, &error);
  if (!client) narrator_test::Fail(__FILE__, __LINE__, "Connect: " + error);
  return client;
}

v1::LoreEntry Lore(std::vector<std::string> keys, const std::string& content, int priority = 0) {
  v1::LoreEntry entry;
  for (auto& key : keys) entry.add_keys(key);
  entry.set_content(content);
  entry.set_priority(priority);
  return entry;
}

}  // namespace

TEST_CASE(live_lore_entries_are_added_replaced_listed_and_deleted) {
  auto client = LiveClient();
  v1::Session session;
  CHECK_OK(client->CreateSession("a drowned city", "grim", "Aldric", "", 0, &session));
  const std::string& id = session.session_id();
  v1::LoreEntry mirela, gate, replaced;
  CHECK_OK(client->PutLoreEntry(id, Lore({"Mirela"}, "Mirela owes Aldric a debt.", 5), &mirela));
  CHECK(!mirela.entry_id().empty());
  CHECK(mirela.has_update_time());
  CHECK_OK(client->PutLoreEntry(id, Lore({"black gate"}, "The gate opens at low tide."), &gate));
  v1::LoreEntry change = mirela;
  change.set_content("Mirela owes Aldric two debts.");
  CHECK_OK(client->PutLoreEntry(id, change, &replaced));
  CHECK_EQ(replaced.entry_id(), mirela.entry_id());

  v1::ListLoreEntriesResponse page;
  CHECK_OK(client->ListLoreEntries(id, 1, "", &page));
  CHECK_EQ(page.entries_size(), 1);
  CHECK_EQ(page.entries(0).entry_id(), mirela.entry_id());  // the highest priority first
  CHECK(!page.next_page_token().empty());
  std::vector<v1::LoreEntry> all;
  CHECK_OK(client->ListAllLoreEntries(id, &all));
  CHECK_EQ(all.size(), 2u);
  CHECK_EQ(all[0].content(), std::string("Mirela owes Aldric two debts."));

  CHECK_OK(client->DeleteLoreEntry(id, gate.entry_id()));
  CHECK_CODE(client->DeleteLoreEntry(id, gate.entry_id()), NOT_FOUND);
  v1::LoreEntry keyless;
  keyless.set_content("no keys");
  grpc::Status bad = client->PutLoreEntry(id, keyless, nullptr);
  CHECK_CODE(bad, INVALID_ARGUMENT);
  auto fields = narrator::FieldViolations(bad);
  CHECK(std::any_of(fields.begin(), fields.end(),
                    [](const auto& f) { return f.field.rfind("entry.keys", 0) == 0; }));
}

TEST_CASE(live_turn_context_and_save_game) {
  auto client = LiveClient();
  v1::Session session;
  CHECK_OK(client->CreateSession("a drowned city", "grim", "Aldric", "", 7, &session));
  const std::string& id = session.session_id();
  v1::LoreEntry lore;
  CHECK_OK(client->PutLoreEntry(id, Lore({"Mirela"}, "Mirela owes Aldric a debt."), &lore));
  narrator::TurnResult turn = client->Narrate(id, "I ask Mirela about the debt", v1::Scene());
  CHECK_OK(turn.status);

  v1::GetTurnContextResponse context;
  CHECK_OK(client->GetTurnContext(id, turn.started.turn_id(), &context));
  CHECK_EQ(context.turn_id(), turn.started.turn_id());
  CHECK(context.sections_size() > 0);
  CHECK(context.sections(0).kind() == v1::CONTEXT_SECTION_KIND_SYSTEM);
  bool lore_in = false;
  uint32_t total = 0;
  for (const auto& section : context.sections()) {
    total += section.tokens();
    if (section.kind() == v1::CONTEXT_SECTION_KIND_LORE && section.lore_entry_id() == lore.entry_id()) {
      lore_in = true;
    }
  }
  CHECK(lore_in);
  CHECK_EQ(total, context.total_tokens());
  CHECK(context.total_tokens() <= context.budget_tokens());

  std::string document;
  CHECK_OK(client->ExportSession(id, &document));
  CHECK(document.find("\"narrator.session\"") != std::string::npos);
  v1::Session imported;
  CHECK_OK(client->ImportSession(document, &imported));
  CHECK(imported.session_id() != id);
  v1::Session stored;
  CHECK_OK(client->GetSession(imported.session_id(), 0, &stored));
  CHECK_EQ(stored.turn_count(), 1u);
  CHECK_EQ(stored.recent_turns(0).turn_id(), turn.started.turn_id());
  CHECK_EQ(stored.recent_turns(0).text(), turn.completed.text());
  CHECK_CODE(client->ImportSession("{\"format\": \"something else\"}", nullptr), INVALID_ARGUMENT);
}
