// A tiny test harness for narrator_client_test (no test framework is needed
// to build the client): TEST_CASE registers a function, CHECK* throw on the
// first failure, SKIP leaves a test that cannot run here.
#pragma once

#include <exception>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "narrator_client.h"

namespace narrator_test {

using TestFn = void (*)();

inline std::vector<std::pair<const char*, TestFn>>& Tests() {
  static std::vector<std::pair<const char*, TestFn>> tests;
  return tests;
}

struct Register {
  Register(const char* name, TestFn fn) { Tests().emplace_back(name, fn); }
};

struct Failure : std::exception {
  explicit Failure(std::string m) : message(std::move(m)) {}
  const char* what() const noexcept override { return message.c_str(); }
  std::string message;
};

struct Skipped : std::exception {
  explicit Skipped(std::string m) : message(std::move(m)) {}
  const char* what() const noexcept override { return message.c_str(); }
  std::string message;
};

[[noreturn]] inline void Fail(const char* file, int line, const std::string& what) {
  std::ostringstream out;
  out << file << ":" << line << ": " << what;
  throw Failure(out.str());
}

template <typename A, typename B>
void CheckEqual(const A& a, const B& b, const char* as, const char* bs, const char* file, int line) {
  if (a == b) return;
  std::ostringstream out;
  out << as << " == " << bs << "\n    left:  " << a << "\n    right: " << b;
  Fail(file, line, out.str());
}

inline void CheckCode(const grpc::Status& status, grpc::StatusCode code, const char* expr,
                      const char* file, int line) {
  if (status.error_code() == code) return;
  Fail(file, line, std::string(expr) + ": expected " + narrator::StatusCodeName(code) + ", got " +
                       narrator::DescribeStatus(status));
}

}  // namespace narrator_test

#define TEST_CASE(name)                                                  \
  static void name();                                                    \
  static const narrator_test::Register name##_registered(#name, name);   \
  static void name()

#define CHECK(cond) \
  do {              \
    if (!(cond)) narrator_test::Fail(__FILE__, __LINE__, "CHECK(" #cond ")"); \
  } while (0)

#define CHECK_EQ(a, b) narrator_test::CheckEqual((a), (b), #a, #b, __FILE__, __LINE__)

#define CHECK_CODE(status, code) \
  narrator_test::CheckCode((status), grpc::StatusCode::code, #status, __FILE__, __LINE__)

#define CHECK_OK(status) CHECK_CODE(status, OK)

#define SKIP(why) throw narrator_test::Skipped(why)
