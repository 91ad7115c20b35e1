#include "worker/buffer_budget.h"

#include <algorithm>
#include <chrono>
#include <utility>

namespace hbone::worker {

namespace {
constexpr auto kRecheck = std::chrono::milliseconds(10);
}  // namespace

BufferGate::BufferGate(net::EventLoop& loop, BufferBudget& budget)
    : budget_(budget), timer_(loop.uv(), [this] { check(); }) {}

void BufferGate::wait(Waiter* waiter) {
  if (std::find(waiting_.begin(), waiting_.end(), waiter) != waiting_.end()) return;
  if (waiting_.empty()) timer_.start(kRecheck, kRecheck);
  waiting_.push_back(waiter);
}

void BufferGate::cancel(Waiter* waiter) {
  auto it = std::find(waiting_.begin(), waiting_.end(), waiter);
  if (it == waiting_.end()) return;
  *it = waiting_.back();
  waiting_.pop_back();
  if (waiting_.empty()) timer_.stop();
}

void BufferGate::check() {
  if (budget_.exhausted()) return;
  timer_.stop();
  // A waiter told may wait again at once (it refilled the budget): that is a new round.
  for (Waiter* waiter : std::exchange(waiting_, {})) waiter->on_budget_room();
}

}  // namespace hbone::worker
