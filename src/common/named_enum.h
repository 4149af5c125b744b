// Enums that configs and flags name by word ("bce", "pgn", "resnet"): each
// enum E declares its names once, next to E, as
//   inline constexpr EnumName<E> kENames[] = {{E::kA, "a"}, {E::kB, "b"}, {E::kB, "b_alias"}};
//   constexpr std::span<const EnumName<E>> enum_names(E) { return kENames; }
// and every parser, printer and error message is derived from that list. The
// first name of a value is its canonical one (what to_toml writes); later names
// of the same value are accepted aliases, so that old saved configs keep loading.
#pragma once
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

namespace gantry {

template <class E>
struct EnumName {
  E value;
  std::string_view name;
};

// "a, b or c": the canonical names of E (aliases left out).
template <class E>
std::string enum_choices() {
  const auto names = enum_names(E{});
  std::string canonical[64];
  size_t n = 0;
  for (size_t i = 0; i < names.size(); ++i) {
    bool first = true;
    for (size_t j = 0; j < i; ++j) first = first && names[j].value != names[i].value;
    if (first && n < 64) canonical[n++] = std::string(names[i].name);
  }
  std::string out;
  for (size_t i = 0; i < n; ++i) out += (i == 0 ? "" : (i + 1 == n ? " or " : ", ")) + canonical[i];
  return out;
}

// The value named `text` (canonical or alias); std::invalid_argument
// "must be a, b or c, not 'x'" otherwise.
template <class E>
E parse_enum(std::string_view text) {
  for (const auto& n : enum_names(E{}))
    if (n.name == text) return n.value;
  throw std::invalid_argument("must be " + enum_choices<E>() + ", not '" + std::string(text) + "'");
}

// The canonical name of `value`.
template <class E>
std::string_view enum_name(E value) {
  for (const auto& n : enum_names(E{}))
    if (n.value == value) return n.name;
  return "?";
}

}  // namespace gantry
