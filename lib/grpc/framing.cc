#include "grpc/framing.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <utility>

namespace hbone::grpc {

const char* name(Code code) {
  static constexpr std::array<const char*, 17> kNames = {
      "OK",        "CANCELLED",     "UNKNOWN",      "INVALID_ARGUMENT",   "DEADLINE_EXCEEDED", "NOT_FOUND",
      "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED",
      "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"};
  auto index = static_cast<size_t>(code);
  return index < kNames.size() ? kNames[index] : "UNKNOWN";
}

Status status_from_trailers(std::optional<std::string_view> grpc_status, std::string_view grpc_message) {
  if (!grpc_status) return {Code::unknown, "no grpc-status in the response"};
  int value = -1;
  auto [end, ec] = std::from_chars(grpc_status->data(), grpc_status->data() + grpc_status->size(), value);
  if (ec != std::errc() || end != grpc_status->data() + grpc_status->size() || value < 0 || value > 16) {
    return {Code::unknown, "grpc-status \"" + std::string(*grpc_status) + "\" is not a status code"};
  }
  return {static_cast<Code>(value), percent_decode(grpc_message)};
}

std::string percent_decode(std::string_view text) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      int high = hex(text[i + 1]), low = hex(text[i + 2]);
      if (high >= 0 && low >= 0) {
        out += static_cast<char>(high * 16 + low);
        i += 2;
        continue;
      }
    }
    out += text[i];
  }
  return out;
}

std::string timeout_header(std::chrono::nanoseconds left) {
  constexpr int64_t kMaxValue = 99'999'999;  // 8 digits
  struct Unit {
    int64_t nanoseconds;
    char letter;
  };
  static constexpr Unit kUnits[] = {{1, 'n'},
                                    {1'000, 'u'},
                                    {1'000'000, 'm'},
                                    {1'000'000'000, 'S'},
                                    {60'000'000'000, 'M'},
                                    {3'600'000'000'000, 'H'}};
  int64_t ns = std::max<int64_t>(left.count(), 1);  // an expired deadline still asks for the least
  for (const Unit& unit : kUnits) {
    int64_t value = (ns + unit.nanoseconds - 1) / unit.nanoseconds;
    if (value <= kMaxValue) return std::to_string(value) + unit.letter;
  }
  return std::to_string(kMaxValue) + 'H';
}

void frame_message(std::string_view message, std::string& out) {
  auto n = static_cast<uint32_t>(message.size());
  const char prefix[5] = {0, static_cast<char>(n >> 24), static_cast<char>(n >> 16), static_cast<char>(n >> 8),
                          static_cast<char>(n)};
  out.append(prefix, sizeof(prefix));
  out.append(message);
}

MessageReader::Result MessageReader::feed(std::span<const uint8_t> data,
                                          const std::function<void(std::string&&)>& on_message) {
  for (;;) {
    if (prefix_size_ < kPrefix) {
      if (data.empty()) break;
      size_t take = std::min(kPrefix - prefix_size_, data.size());
      std::copy_n(data.begin(), take, prefix_ + prefix_size_);
      prefix_size_ += take;
      data = data.subspan(take);
      if (prefix_size_ < kPrefix) break;
      if (prefix_[0] != 0) return Result::compressed;
      body_size_ = (size_t{prefix_[1]} << 24) | (size_t{prefix_[2]} << 16) | (size_t{prefix_[3]} << 8) | prefix_[4];
      if (body_size_ > max_message_) return Result::too_large;
      body_.clear();
      body_.reserve(body_size_);
    }
    size_t take = std::min(body_size_ - body_.size(), data.size());
    body_.append(reinterpret_cast<const char*>(data.data()), take);
    data = data.subspan(take);
    if (body_.size() < body_size_) break;  // the rest comes in later DATA
    prefix_size_ = 0;
    on_message(std::exchange(body_, {}));
  }
  return Result::ok;
}

}  // namespace hbone::grpc
