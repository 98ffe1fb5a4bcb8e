// NarratorClient's channel: credentials (plaintext, TLS, mTLS), the identity
// (API key, player) sent with every call, and the contexts of calls.
#include <fstream>
#include <sstream>
#include <tuple>
#include <utility>

#include "narrator_client.h"

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

}  // namespace

grpc::Status CheckIdentity(const ClientOptions& options) {
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
      identity_status_(CheckIdentity(options_)) {}

std::unique_ptr<NarratorClient> NarratorClient::Connect(const std::string& address,
                                                        ClientOptions options,
                                                        std::string* error) {
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  grpc::ChannelArguments arguments;
  grpc::Status status = CheckIdentity(options);
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

}  // namespace narrator
