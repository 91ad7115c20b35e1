#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>

namespace hbone {

// A growable FIFO of bytes: append at the tail, consume from the head. Storage is only
// allocated on demand and can be dropped when empty, so an idle tunnel costs nothing here.
class ByteBuffer {
 public:
  const uint8_t* data() const { return storage_.get() + begin_; }
  uint8_t* data() { return storage_.get() + begin_; }
  size_t size() const { return end_ - begin_; }
  bool empty() const { return begin_ == end_; }
  size_t capacity() const { return capacity_; }

  // At least `n` writable bytes at the tail; fill them, then commit(). Storage grows by
  // doubling, but not past `limit` (unless `n` needs more).
  std::span<uint8_t> prepare(size_t n, size_t limit = SIZE_MAX) {
    if (capacity_ - end_ < n) make_room(n, limit);
    return {storage_.get() + end_, capacity_ - end_};
  }
  // What prepare(n, limit) would add to the capacity.
  size_t growth(size_t n, size_t limit = SIZE_MAX) const {
    if (capacity_ - end_ >= n || size() + n <= capacity_) return 0;
    return grown(n, limit) - capacity_;
  }
  void commit(size_t n) { end_ += n; }

  void append(const uint8_t* bytes, size_t n) {
    if (n == 0) return;
    std::memcpy(prepare(n).data(), bytes, n);
    commit(n);
  }

  void consume(size_t n) {
    begin_ += n;
    if (begin_ == end_) begin_ = end_ = 0;
  }

  // Frees the storage when nothing is buffered.
  void shrink() {
    if (empty()) {
      storage_.reset();
      capacity_ = 0;
    }
  }

 private:
  size_t grown(size_t n, size_t limit) const {
    size_t needed = size() + n;
    return std::max(needed, std::min(capacity_ * 2, limit));
  }

  void make_room(size_t n, size_t limit) {
    size_t used = size();
    if (storage_ && used + n <= capacity_) {
      std::memmove(storage_.get(), data(), used);
    } else {
      size_t capacity = grown(n, limit);
      auto bigger = std::make_unique_for_overwrite<uint8_t[]>(capacity);
      if (used) std::memcpy(bigger.get(), data(), used);
      storage_ = std::move(bigger);
      capacity_ = capacity;
    }
    begin_ = 0;
    end_ = used;
  }

  std::unique_ptr<uint8_t[]> storage_;
  size_t capacity_ = 0;
  size_t begin_ = 0;
  size_t end_ = 0;
};

}  // namespace hbone
