#include "tunnel/admission.h"

#include <utility>

namespace hbone::tunnel {

Admission::Ticket::Ticket(Ticket&& other) noexcept
    : owner_(std::exchange(other.owner_, nullptr)), identity_(std::move(other.identity_)) {}

Admission::Ticket& Admission::Ticket::operator=(Ticket&& other) noexcept {
  if (this != &other) {
    release();
    owner_ = std::exchange(other.owner_, nullptr);
    identity_ = std::move(other.identity_);
  }
  return *this;
}

Admission::Ticket::~Ticket() { release(); }

void Admission::Ticket::release() {
  if (owner_) std::exchange(owner_, nullptr)->release(identity_);
}

Admission::Ticket Admission::admit(const std::string& identity, Refusal& refusal) {
  refusal = Refusal::none;
  uint32_t before = active_.fetch_add(1, std::memory_order_relaxed);
  uint32_t max_tunnels = max_tunnels_.load(std::memory_order_relaxed);
  if (max_tunnels && before >= max_tunnels) {
    active_.fetch_sub(1, std::memory_order_relaxed);
    refusal = Refusal::max_tunnels;
    return {};
  }
  // Counted per identity even without a cap: a reload may set one, and it must see them.
  if (identity.empty()) return Ticket(this, "");
  uint32_t max_per_identity = max_per_identity_.load(std::memory_order_relaxed);
  std::lock_guard lock(mutex_);
  uint32_t& count = per_identity_[identity];
  if (max_per_identity && count >= max_per_identity) {
    active_.fetch_sub(1, std::memory_order_relaxed);
    refusal = Refusal::max_tunnels_per_identity;
    return {};
  }
  ++count;
  return Ticket(this, identity);
}

void Admission::release(const std::string& identity) {
  active_.fetch_sub(1, std::memory_order_relaxed);
  if (identity.empty()) return;
  std::lock_guard lock(mutex_);
  auto it = per_identity_.find(identity);
  if (it != per_identity_.end() && --it->second == 0) per_identity_.erase(it);
}

}  // namespace hbone::tunnel
