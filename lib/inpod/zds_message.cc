#include "inpod/zds_message.h"

#include "istio/workload/zds/zds.pb.h"

namespace hbone::inpod {

namespace zds = istio::workload::zds;

ParsedRequest parse_request(ZdsPacket packet) {
  if (packet.truncated) return {std::nullopt, "truncated message"};
  zds::WorkloadRequest message;
  if (!message.ParseFromArray(packet.bytes.data(), static_cast<int>(packet.bytes.size()))) {
    return {std::nullopt, "not a WorkloadRequest"};
  }
  bool is_add = message.payload_case() == zds::WorkloadRequest::kAdd;
  if (packet.fds.size() > 1) return {std::nullopt, "expected 1 descriptor, got " + std::to_string(packet.fds.size())};
  if (!is_add && !packet.fds.empty()) return {std::nullopt, "a descriptor with a request other than add"};
  switch (message.payload_case()) {
    case zds::WorkloadRequest::kAdd: {
      if (packet.fds.empty()) return {std::nullopt, "add without the pod's network namespace"};
      const zds::AddWorkload& add = message.add();
      if (!add.has_workload_info()) return {std::nullopt, "add without workload_info"};
      const zds::WorkloadInfo& info = add.workload_info();
      return {AddPod{add.uid(), {info.name(), info.namespace_(), info.service_account()}, std::move(packet.fds[0])},
              ""};
    }
    case zds::WorkloadRequest::kKeep:
      return {KeepPod{message.keep().uid()}, ""};
    case zds::WorkloadRequest::kDel:
      return {DeletePod{message.del().uid()}, ""};
    case zds::WorkloadRequest::kSnapshotSent:
      return {SnapshotSent{}, ""};
    case zds::WorkloadRequest::PAYLOAD_NOT_SET:
      break;
  }
  return {std::nullopt, "no payload"};
}

std::string encode_hello() {
  zds::ZdsHello hello;
  hello.set_version(zds::V1);
  return hello.SerializeAsString();
}

std::string encode_ack(const std::string& error) {
  zds::WorkloadResponse response;
  response.mutable_ack()->set_error(error);
  return response.SerializeAsString();
}

}  // namespace hbone::inpod
