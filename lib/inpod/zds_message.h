#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "net/fd.h"

namespace hbone::inpod {

// What the CNI agent says of a pod (ZDS WorkloadInfo).
struct PodInfo {
  std::string name;
  std::string namespace_name;
  std::string service_account;
};

// The agent's requests (ZDS WorkloadRequest), descriptors owned.
struct AddPod {
  std::string uid;
  PodInfo info;
  net::Fd netns;
};
struct KeepPod {
  std::string uid;
};
struct DeletePod {
  std::string uid;
};
struct SnapshotSent {};
using ZdsRequest = std::variant<AddPod, KeepPod, DeletePod, SnapshotSent>;

// One packet as received: its bytes, the descriptors that came with it (owned), and whether
// the kernel cut the bytes or the descriptors short (MSG_TRUNC, MSG_CTRUNC).
struct ZdsPacket {
  std::string_view bytes;
  std::vector<net::Fd> fds;
  bool truncated = false;
};

// The request a packet holds, or why it cannot be taken (its descriptors are closed then),
// as ztunnel's protocol.rs checks: whole, decodable, a payload, exactly one descriptor with
// an add and none with anything else, an add's workload_info present.
struct ParsedRequest {
  std::optional<ZdsRequest> request;
  std::string error;
};
ParsedRequest parse_request(ZdsPacket packet);

// What hbone sends: its hello (protocol V1) and an answer ("" acknowledges).
std::string encode_hello();
std::string encode_ack(const std::string& error);

}  // namespace hbone::inpod
