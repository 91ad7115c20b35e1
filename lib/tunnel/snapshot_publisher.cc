#include "tunnel/snapshot_publisher.h"

#include <utility>

namespace hbone::tunnel {

SnapshotPublisher::SnapshotPublisher(SnapshotInputs inputs, std::shared_ptr<const PeerPolicy> first, Apply apply)
    : inputs_(std::move(inputs)), apply_(std::move(apply)), current_(std::move(first)) {}

std::shared_ptr<const PeerPolicy> SnapshotPublisher::publish(const std::function<void(SnapshotInputs&)>& change) {
  SnapshotInputs next = inputs_;
  change(next);
  std::shared_ptr<const PeerPolicy> snapshot = PeerPolicy::build(next.config, next.mesh, next.issued);  // throws: nothing changed
  apply_(snapshot);                                           // throws: nothing changed
  inputs_ = std::move(next);
  std::lock_guard lock(current_mutex_);
  current_ = snapshot;
  return snapshot;
}

std::shared_ptr<const PeerPolicy> SnapshotPublisher::current() const {
  std::lock_guard lock(current_mutex_);
  return current_;
}

}  // namespace hbone::tunnel
