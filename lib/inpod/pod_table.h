#pragma once

#include <functional>
#include <map>
#include <set>
#include <string>

#include "inpod/netns.h"
#include "inpod/zds_message.h"

namespace hbone::inpod {

// A pod this node serves: what the agent said of it and its network namespace (the
// descriptor is the only hold hbone has on it).
struct Pod {
  std::string uid;
  PodInfo info;
  Netns netns;
  NetnsId netns_id;
};

// The pods the CNI agent handed over, with ZDS's rules (ztunnel's inpod/statemanager.rs):
// on each connection the agent first sends every pod it has (adds, and keeps for pods it
// has no namespace for any more), then SnapshotSent, after which the pods it did not name
// are removed; afterwards only adds and deletes. An add of a pod already served in the same
// namespace changes nothing; in another namespace (the pod's sandbox was recreated) the old
// one goes first. One loop's object.
class PodTable {
 public:
  struct Events {
    // A pod to serve: "" once it is, else why not (the add is refused; the agent retries).
    std::function<std::string(const Pod&)> added;
    // A pod no longer served (its namespace descriptor closes after this returns).
    std::function<void(const Pod&)> removed;
  };
  explicit PodTable(Events events);

  // A new connection to the agent: a snapshot starts.
  void new_connection();
  // One request applied: `error` empty, or why it was refused; `broken`: the agent broke
  // the protocol (a keep after the snapshot, a second snapshot), and the connection ends.
  struct Applied {
    std::string error;
    bool broken = false;
  };
  Applied apply(ZdsRequest request);

  const std::map<std::string, Pod>& pods() const { return pods_; }
  bool snapshot_received() const { return snapshot_received_; }

 private:
  std::string add(AddPod add);
  void remove(const std::string& uid);

  Events events_;
  std::map<std::string, Pod> pods_;
  bool snapshot_received_ = false;
  std::set<std::string> named_;  // in this connection's snapshot so far
};

}  // namespace hbone::inpod
