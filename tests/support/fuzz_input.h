#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace hbone::test {

// A fuzzer's input read as a program: small integers and byte strings taken from the front,
// zeros once it runs out (so every input decodes to something, and shrinking keeps meaning).
class FuzzInput {
 public:
  FuzzInput(const uint8_t* data, size_t size) : rest_(data, size) {}

  bool empty() const { return rest_.empty(); }
  uint8_t u8() {
    if (rest_.empty()) return 0;
    uint8_t value = rest_[0];
    rest_ = rest_.subspan(1);
    return value;
  }
  uint16_t u16() { return static_cast<uint16_t>((u8() << 8) | u8()); }
  // Up to `n` bytes (fewer at the end of the input).
  std::span<const uint8_t> bytes(size_t n) {
    auto taken = rest_.first(n < rest_.size() ? n : rest_.size());
    rest_ = rest_.subspan(taken.size());
    return taken;
  }

 private:
  std::span<const uint8_t> rest_;
};

}  // namespace hbone::test
