#pragma once

#include <uv.h>

#include <chrono>
#include <functional>

#include "net/uv_handle.h"

namespace hbone::net {

class Timer {
 public:
  Timer(uv_loop_t* loop, std::function<void()> on_fire);
  void start(std::chrono::milliseconds after, std::chrono::milliseconds repeat = {});
  void stop();

 private:
  UvHandle<uv_timer_t> timer_;
  std::function<void()> on_fire_;
};

}  // namespace hbone::net
