// narrator_client_test: runs every TEST_CASE; exits non-zero when one fails.
#include <iostream>

#include "check.h"

int main() {
  int failed = 0;
  int skipped = 0;
  for (const auto& [name, fn] : narrator_test::Tests()) {
    try {
      fn();
      std::cout << "ok   " << name << std::endl;
    } catch (const narrator_test::Skipped& skip) {
      ++skipped;
      std::cout << "skip " << name << ": " << skip.what() << std::endl;
    } catch (const std::exception& error) {
      ++failed;
      std::cout << "FAIL " << name << "\n  " << error.what() << std::endl;
    }
  }
  std::cout << narrator_test::Tests().size() << " tests, " << failed << " failed, " << skipped
            << " skipped" << std::endl;
  return failed == 0 ? 0 : 1;
}
