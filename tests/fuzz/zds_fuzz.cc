// libFuzzer: what the Istio CNI agent can send hbone over ZDS, packet by packet, with
// descriptors attached, through what hbone does with it (inpod::parse_request, then the
// PodTable of one connection after another). Whatever it holds, nothing crashes; a packet
// refused says why; the pods served are those added and not removed since; and once the
// table is gone, so is every descriptor that came with a packet.
#include <fcntl.h>
#include <google/protobuf/stubs/logging.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>

#include "fuzz_input.h"
#include "inpod/pod_table.h"
#include "inpod/zds_message.h"

namespace {

// What may come with a packet: the one network namespace a fuzzer has, a namespace of
// another kind, a file that is none.
constexpr const char* kFiles[] = {"/proc/self/ns/net", "/proc/self/ns/uts", "/dev/null"};

int lowest_free_descriptor() {
  int fd = ::dup(0);
  ::close(fd);
  return fd;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);  // a log line per input is the bottleneck
  google::protobuf::SetLogHandler(nullptr);  // and protobuf's complaint about each bad string
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace hbone::inpod;
  hbone::test::FuzzInput input(data, size);
  const int free_before = lowest_free_descriptor();
  {
    std::set<std::string> served;  // as the events saw it
    PodTable table({.added = [&](const Pod& pod) -> std::string {
                      if (input.u8() % 8 == 0) return "refused by the proxy";  // e.g. cannot listen
                      if (!served.insert(pod.uid).second) std::abort();  // added twice without a removal
                      return "";
                    },
                    .removed = [&](const Pod& pod) {
                      if (served.erase(pod.uid) != 1) std::abort();  // removed without being served
                    }});
    table.new_connection();
    while (!input.empty()) {
      uint8_t flags = input.u8();
      if (flags % 16 == 0) {  // the connection ends; the agent's next one starts a snapshot
        table.new_connection();
        continue;
      }
      auto bytes = input.bytes(input.u16() % 512);
      ZdsPacket packet{{reinterpret_cast<const char*>(bytes.data()), bytes.size()}, {}, (flags & 0x80) != 0};
      for (int i = 0; i < (flags >> 4) % 3; ++i) {
        packet.fds.emplace_back(::open(kFiles[input.u8() % 3], O_RDONLY | O_CLOEXEC));
      }
      ParsedRequest parsed = parse_request(std::move(packet));
      if (!parsed.request) {
        if (parsed.error.empty()) std::abort();  // a refusal says why
        table.new_connection();  // as ZdsClient: the connection starts over
        continue;
      }
      PodTable::Applied applied = table.apply(std::move(*parsed.request));
      if (applied.broken && applied.error.empty()) std::abort();
      if (applied.broken) table.new_connection();
      std::set<std::string> in_table;
      for (const auto& [uid, pod] : table.pods()) {
        if (uid != pod.uid || !pod.netns || !*pod.netns) std::abort();
        in_table.insert(uid);
      }
      if (in_table != served) std::abort();
    }
  }
  if (lowest_free_descriptor() != free_before) std::abort();  // a descriptor outlived its pod
  return 0;
}
