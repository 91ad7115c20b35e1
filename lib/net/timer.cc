#include "net/timer.h"

namespace hbone::net {

Timer::Timer(uv_loop_t* loop, std::function<void()> on_fire) : on_fire_(std::move(on_fire)) {
  uv_timer_init(loop, timer_.get());
  timer_.initialized();
  timer_.get()->data = this;
}

void Timer::start(std::chrono::milliseconds after, std::chrono::milliseconds repeat) {
  uv_timer_start(
      timer_.get(),
      [](uv_timer_t* t) {
        if (t->data) static_cast<Timer*>(t->data)->on_fire_();
      },
      static_cast<uint64_t>(after.count()), static_cast<uint64_t>(repeat.count()));
}

void Timer::stop() { uv_timer_stop(timer_.get()); }

}  // namespace hbone::net
