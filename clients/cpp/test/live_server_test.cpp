// Against the real server ci.sh starts: keys made with the CLI, mTLS with
// certificates made with openssl. The environment names them:
//   NARRATOR_ADDRESS               the server
//   NARRATOR_API_KEY               a key of tenant "studio"
//   NARRATOR_TEST_RIVAL_KEY        a key of another tenant
//   NARRATOR_TEST_METERED_KEY      a key with --player-requests-per-minute 2
//   NARRATOR_TLS_CA_FILE           the CA of the server's (and clients') certificates
//   NARRATOR_TLS_CLIENT_CERT_FILE  a client certificate from that CA, and
//   NARRATOR_TLS_CLIENT_KEY_FILE   its key
// Skipped when they are not set (a plain `ctest` without ci.sh), unless
// NARRATOR_TEST_REQUIRE_LIVE is set (ci.sh sets it): then they fail.
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "check.h"

namespace v1 = narrator::v1;
using narrator::ClientOptions;
using narrator::NarratorClient;
using narrator::Pem;

namespace {

std::string Env(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? std::string() : std::string(value);
}

struct Live {
  std::string address = Env("NARRATOR_ADDRESS");
  std::string key = Env("NARRATOR_API_KEY");
  std::string rival = Env("NARRATOR_TEST_RIVAL_KEY");
  std::string metered = Env("NARRATOR_TEST_METERED_KEY");
  std::string ca = Env("NARRATOR_TLS_CA_FILE");
  std::string cert = Env("NARRATOR_TLS_CLIENT_CERT_FILE");
  std::string client_key = Env("NARRATOR_TLS_CLIENT_KEY_FILE");

  Live() {
    for (const std::string* v : {&address, &key, &rival, &metered, &ca, &cert, &client_key}) {
      if (!v->empty()) continue;
      const char* why = "needs the keyed mTLS server of ci.sh (NARRATOR_ADDRESS, ...)";
      if (!Env("NARRATOR_TEST_REQUIRE_LIVE").empty()) narrator_test::Fail(__FILE__, __LINE__, why);
      SKIP(why);
    }
  }

  // Options with mTLS from the files and this API key.
  ClientOptions Options(const std::string& api_key) const {
    ClientOptions options;
    options.api_key = api_key;
    options.tls.root_certificates = Pem::File(ca);
    options.tls.certificate_chain = Pem::File(cert);
    options.tls.private_key = Pem::File(client_key);
    return options;
  }

  std::unique_ptr<NarratorClient> Client(const ClientOptions& options) const {
    std::string error;
    auto client = NarratorClient::Connect(address, options, &error);
    if (!client) narrator_test::Fail(__FILE__, __LINE__, "Connect: " + error);
    return client;
  }
};

std::string Read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

grpc::Status NewSession(NarratorClient& client, v1::Session* session) {
  return client.CreateSession("a drowned city", "grim", "Aldric", "a knight", 0, session);
}

}  // namespace

TEST_CASE(live_mtls_with_pem_files_or_pem_text) {
  Live live;
  v1::Session session;
  CHECK_OK(NewSession(*live.Client(live.Options(live.key)), &session));

  ClientOptions text = live.Options(live.key);
  text.tls.root_certificates = Pem::Text(Read(live.ca));
  text.tls.certificate_chain = Pem::Text(Read(live.cert));
  text.tls.private_key = Pem::Text(Read(live.client_key));
  auto client = live.Client(text);
  CHECK_OK(client->GetSession(session.session_id(), 0, &session));
  narrator::TurnResult turn = client->Narrate(session.session_id(), "I knock twice", v1::Scene());
  CHECK_OK(turn.status);
  CHECK(!turn.text.empty());
}

TEST_CASE(live_without_tls_or_a_client_certificate_there_is_no_connection) {
  Live live;
  v1::Session session;
  ClientOptions plaintext;
  plaintext.api_key = live.key;
  CHECK_CODE(NewSession(*live.Client(plaintext), &session), UNAVAILABLE);

  ClientOptions server_only = live.Options(live.key);
  server_only.tls.certificate_chain = Pem();
  server_only.tls.private_key = Pem();
  CHECK_CODE(NewSession(*live.Client(server_only), &session), UNAVAILABLE);

  ClientOptions wrong_name = live.Options(live.key);
  wrong_name.tls.server_name = "elsewhere.example";
  CHECK_CODE(NewSession(*live.Client(wrong_name), &session), UNAVAILABLE);
  wrong_name.tls.server_name = "narrator.internal";  // a name the certificate has
  CHECK_OK(NewSession(*live.Client(wrong_name), &session));
}

TEST_CASE(live_no_key_or_a_wrong_key_is_unauthenticated) {
  Live live;
  v1::Session session;
  CHECK_OK(NewSession(*live.Client(live.Options(live.key)), &session));
  for (const std::string& key : {std::string(), std::string("nrk_000000000000_nothing")}) {
    auto client = live.Client(live.Options(key));
    v1::Session ignored;
    CHECK_CODE(NewSession(*client, &ignored), UNAUTHENTICATED);
    CHECK_CODE(client->Narrate(session.session_id(), "I wait", v1::Scene()).status, UNAUTHENTICATED);
    CHECK_CODE(client->Watch(session.session_id(), nullptr), UNAUTHENTICATED);
  }
}

TEST_CASE(live_another_tenant_gets_not_found) {
  Live live;
  v1::Session session;
  CHECK_OK(NewSession(*live.Client(live.Options(live.key)), &session));
  auto rival = live.Client(live.Options(live.rival));
  v1::Session seen;
  CHECK_CODE(rival->GetSession(session.session_id(), 0, &seen), NOT_FOUND);
  CHECK_CODE(rival->Narrate(session.session_id(), "I steal the map", v1::Scene()).status, NOT_FOUND);
  CHECK_CODE(rival->Watch(session.session_id(), nullptr), NOT_FOUND);
  CHECK_CODE(rival->DeleteSession(session.session_id()), NOT_FOUND);
}

TEST_CASE(live_player_quota_comes_back_with_its_details) {
  Live live;
  auto backend = live.Client(live.Options(live.metered));
  auto alice = backend->WithPlayer("alice");
  v1::Session session;
  CHECK_OK(NewSession(*alice, &session));
  CHECK_OK(alice->GetSession(session.session_id(), 0, &session));
  grpc::Status refused = alice->GetSession(session.session_id(), 0, &session);
  CHECK_CODE(refused, RESOURCE_EXHAUSTED);
  auto quotas = narrator::QuotaViolations(refused);
  CHECK_EQ(quotas.size(), 1u);
  CHECK_EQ(quotas[0].limit, std::string("player_requests_per_minute"));
  CHECK_EQ(quotas[0].subject, std::string("player:alice"));
  CHECK_EQ(quotas[0].value, 2);
  auto delay = narrator::RetryDelay(refused);
  CHECK(delay.has_value() && delay->count() > 0);
  CHECK(narrator::DescribeStatus(refused).find("player_requests_per_minute=2") != std::string::npos);
  // Another player of the same key has its own budget.
  CHECK_OK(backend->WithPlayer("bob")->GetSession(session.session_id(), 0, &session));
}
