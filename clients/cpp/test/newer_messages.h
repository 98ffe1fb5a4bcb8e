// Messages as a server of a newer contract sends them: a new oneof case
// (field 15, a "TurnHint" this client does not know) that arrives as an
// unknown field with no event set.
#pragma once

#include <string>

namespace narrator_test {

// Field 15, length-delimited, holding TurnHint{text: "hint"} (field 1).
inline const std::string& HintBytes() {
  static const std::string bytes("\x7a\x06\x0a\x04hint", 8);
  return bytes;
}

// `known` with the newer event added (its own oneof, if any, stays as is).
template <typename Message>
Message Newer(Message known = Message()) {
  known.MergeFromString(HintBytes());
  return known;
}

}  // namespace narrator_test
