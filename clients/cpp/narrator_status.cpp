// Status helpers: the google.rpc.Status in grpc-status-details-bin, decoded
// without the google/rpc protos (Debian does not ship them for C++): field
// numbers from google/rpc/status.proto and error_details.proto.
#include <google/protobuf/unknown_field_set.h>

#include <sstream>
#include <utility>

#include "narrator_client.h"

namespace narrator {

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

std::string String(const UnknownFieldSet& set, int number) {
  auto all = Strings(set, number);
  return all.empty() ? std::string() : all.front();
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
    std::string url = String(any, 1);  // Any.type_url
    if (url.empty()) continue;
    detail.type = url.substr(url.rfind('/') + 1);
    detail.value = String(any, 2);  // Any.value
    out.push_back(std::move(detail));
  }
  return out;
}

// Calls visit(entry) for each sub-message `number` of one detail (e.g. each
// BadRequest.field_violations), parsed.
template <typename Visit>
void ForEachEntry(const Detail& detail, int number, Visit visit) {
  UnknownFieldSet message;
  if (!message.ParseFromString(detail.value)) return;
  for (const std::string& bytes : Strings(message, number)) {
    UnknownFieldSet entry;
    if (entry.ParseFromString(bytes)) visit(entry);
  }
}

// QuotaFailure.violations = 1: subject 1, description 2, quota_id 5, quota_value 7.
std::vector<QuotaViolation> QuotasOf(const Detail& detail) {
  std::vector<QuotaViolation> out;
  ForEachEntry(detail, 1, [&](const UnknownFieldSet& v) {
    out.push_back(QuotaViolation{String(v, 5), String(v, 1), static_cast<int64_t>(Varint(v, 7)),
                                 String(v, 2)});
  });
  return out;
}

// BadRequest.field_violations = 1: field 1, description 2.
std::vector<FieldViolation> FieldsOf(const Detail& detail) {
  std::vector<FieldViolation> out;
  ForEachEntry(detail, 1, [&](const UnknownFieldSet& v) {
    out.push_back(FieldViolation{String(v, 1), String(v, 2)});
  });
  return out;
}

constexpr const char kBadRequest[] = "google.rpc.BadRequest";
constexpr const char kQuotaFailure[] = "google.rpc.QuotaFailure";
constexpr const char kRetryInfo[] = "google.rpc.RetryInfo";

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
    if (EndsWith(detail.type, kRetryInfo)) return DelayOf(detail);
  }
  return std::nullopt;
}

std::vector<QuotaViolation> QuotaViolations(const grpc::Status& status) {
  std::vector<QuotaViolation> out;
  for (const Detail& detail : Details(status)) {
    if (!EndsWith(detail.type, kQuotaFailure)) continue;
    for (QuotaViolation& q : QuotasOf(detail)) out.push_back(std::move(q));
  }
  return out;
}

std::vector<FieldViolation> FieldViolations(const grpc::Status& status) {
  std::vector<FieldViolation> out;
  for (const Detail& detail : Details(status)) {
    if (!EndsWith(detail.type, kBadRequest)) continue;
    for (FieldViolation& f : FieldsOf(detail)) out.push_back(std::move(f));
  }
  return out;
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
    if (EndsWith(detail.type, kBadRequest)) {
      for (const FieldViolation& v : FieldsOf(detail)) out << " " << v.field << ": " << v.description << ";";
    } else if (EndsWith(detail.type, kQuotaFailure)) {
      for (const QuotaViolation& q : QuotasOf(detail)) {
        out << " " << q.limit << "=" << q.value << " " << q.subject << ": " << q.description << ";";
      }
    } else if (EndsWith(detail.type, kRetryInfo)) {
      if (auto delay = DelayOf(detail)) out << " retry after " << delay->count() << " ms";
    } else if (EndsWith(detail.type, "google.rpc.ErrorInfo")) {
      UnknownFieldSet value;
      if (value.ParseFromString(detail.value)) out << " " << String(value, 1);
    }
    out << "]";
  }
  return out.str();
}

}  // namespace narrator
