// libFuzzer: the admin server's request reader. The same bytes fed at once and in pieces
// of any size must end in the same state with the same request: the head and body limits
// count what arrived, never how it was cut.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "admin/http_message.h"
#include "fuzz_input.h"

using hbone::admin::RequestReader;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  hbone::test::FuzzInput in(data, size);
  size_t max_head = 16 + in.u8() * 4u, max_body = in.u8(), piece = 1 + in.u8();
  auto rest = in.bytes(size);
  std::string_view text(reinterpret_cast<const char*>(rest.data()), rest.size());

  RequestReader whole(max_head, max_body), cut(max_head, max_body);
  RequestReader::State at_once = whole.feed(text);
  RequestReader::State in_pieces = RequestReader::State::incomplete;
  for (size_t at = 0; at < text.size(); at += piece) in_pieces = cut.feed(text.substr(at, piece));
  if (at_once != in_pieces) std::abort();
  if (at_once == RequestReader::State::complete) {
    const auto& a = whole.request();
    const auto& b = cut.request();
    if (a.method != b.method || a.path != b.path || a.query != b.query || a.path.empty()) std::abort();
  }
  if (at_once == RequestReader::State::incomplete && whole.finish() != RequestReader::State::bad) std::abort();
  return 0;
}
