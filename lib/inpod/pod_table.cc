#include "inpod/pod_table.h"

#include <spdlog/spdlog.h>

namespace hbone::inpod {

PodTable::PodTable(Events events) : events_(std::move(events)) {}

void PodTable::new_connection() {
  snapshot_received_ = false;
  named_.clear();
}

PodTable::Applied PodTable::apply(ZdsRequest request) {
  return std::visit(
      [this](auto&& r) -> Applied {
        using T = std::decay_t<decltype(r)>;
        if constexpr (std::is_same_v<T, AddPod>) {
          if (!snapshot_received_) named_.insert(r.uid);
          return {add(std::move(r))};
        } else if constexpr (std::is_same_v<T, KeepPod>) {
          if (snapshot_received_) return {"keep " + r.uid + " after the snapshot", true};
          named_.insert(r.uid);
          return {};
        } else if constexpr (std::is_same_v<T, DeletePod>) {
          if (!snapshot_received_) {
            named_.erase(r.uid);  // not named: the snapshot's end removes it
            return {};
          }
          remove(r.uid);
          return {};
        } else {
          if (snapshot_received_) return {"a second snapshot on one connection", true};
          snapshot_received_ = true;
          std::vector<std::string> gone;
          for (const auto& [uid, pod] : pods_) {
            if (!named_.contains(uid)) gone.push_back(uid);
          }
          for (const std::string& uid : gone) remove(uid);
          named_.clear();
          spdlog::info("inpod: snapshot reconciled: {} pods served, {} removed", pods_.size(), gone.size());
          return {};
        }
      },
      std::move(request));
}

std::string PodTable::add(AddPod add) {
  std::string why;
  auto id = netns_id(add.netns.get(), why);
  if (!id) return "pod " + add.uid + ": " + why;
  if (auto it = pods_.find(add.uid); it != pods_.end()) {
    if (it->second.netns_id == *id) return "";  // the same pod again (a reconnect's snapshot)
    spdlog::info("inpod: pod {} is in a new network namespace: serving it there", add.uid);
    remove(add.uid);
  }
  Pod pod{add.uid, std::move(add.info), std::make_shared<const net::Fd>(std::move(add.netns)), *id};
  if (std::string error = events_.added(pod); !error.empty()) return "pod " + pod.uid + ": " + error;
  spdlog::info("inpod: serving pod {} ({}/{}, service account {})", pod.uid, pod.info.namespace_name, pod.info.name,
               pod.info.service_account);
  std::string uid = pod.uid;
  pods_.emplace(std::move(uid), std::move(pod));
  return "";
}

void PodTable::remove(const std::string& uid) {
  auto it = pods_.find(uid);
  if (it == pods_.end()) return;
  events_.removed(it->second);
  spdlog::info("inpod: pod {} ({}/{}) no longer served", uid, it->second.info.namespace_name, it->second.info.name);
  pods_.erase(it);
}

}  // namespace hbone::inpod
