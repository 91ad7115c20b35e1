#include "net/file_watcher.h"

#include <filesystem>
#include <set>
#include <stdexcept>
#include <string_view>

namespace hbone::net {

FileWatcher::FileWatcher(uv_loop_t* loop, const std::vector<std::string>& paths, std::chrono::milliseconds settle,
                         std::function<void()> on_change)
    : settle_timer_(loop, [this] { on_change_(); }), settle_(settle), on_change_(std::move(on_change)) {
  std::set<std::string> directories;
  for (const auto& path : paths) {
    std::filesystem::path absolute = std::filesystem::absolute(path);
    directories.insert(absolute.parent_path().string());
    names_.insert(absolute.filename().string());
  }
  for (const auto& dir : directories) {
    UvHandle<uv_fs_event_t>& watch = watches_.emplace_back();
    uv_fs_event_init(loop, watch.get());
    watch.initialized();
    watch.get()->data = this;
    int rc = uv_fs_event_start(
        watch.get(),
        [](uv_fs_event_t* handle, const char* name, int, int) {
          auto* self = static_cast<FileWatcher*>(handle->data);
          // Only the watched names and kubelet's "..data"-style entries: a busy neighbour (a
          // log file beside the config) must not keep the settle timer from firing.
          if (!self || (name && !self->names_.count(name) && std::string_view(name).substr(0, 2) != "..")) return;
          self->settle_timer_.start(self->settle_);  // restarts: waits for the burst to end
        },
        dir.c_str(), 0);
    if (rc != 0) throw std::runtime_error("cannot watch \"" + dir + "\": " + uv_strerror(rc));
  }
}

}  // namespace hbone::net
