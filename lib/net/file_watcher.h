#pragma once

#include <uv.h>

#include <chrono>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "net/timer.h"
#include "net/uv_handle.h"

namespace hbone::net {

// Calls `on_change` once things settle after any change in the directories holding
// `paths` (inotify through uv_fs_event). Directories, not the files: Kubernetes rotates a
// mounted secret by swapping a `..data` symlink in the directory, which a watch on the
// old file never sees; events for other names of the directory (but kubelet's "..*" entries)
// are ignored. Several events in a burst (a swap, a file written in steps) make
// one call, `settle` after the last.
class FileWatcher {
 public:
  // Throws std::runtime_error naming a directory that cannot be watched.
  FileWatcher(uv_loop_t* loop, const std::vector<std::string>& paths, std::chrono::milliseconds settle,
              std::function<void()> on_change);

 private:
  std::vector<UvHandle<uv_fs_event_t>> watches_;
  std::set<std::string> names_;  // the watched files' names
  Timer settle_timer_;
  std::chrono::milliseconds settle_;
  std::function<void()> on_change_;
};

}  // namespace hbone::net
