#pragma once

#include <uv.h>

#include <memory>

namespace hbone::net {

// Owns a heap-allocated libuv handle. libuv may still touch a handle after uv_close()
// until its close callback runs, so the memory is released there: the owning object can
// be destroyed at any time, even from inside the handle's own callback.
template <typename T>
class UvHandle {
 public:
  UvHandle() : handle_(std::make_unique<T>()) {}
  UvHandle(UvHandle&&) noexcept = default;
  UvHandle& operator=(UvHandle&&) = delete;
  ~UvHandle() {
    if (!handle_ || !initialized_) return;
    auto* raw = reinterpret_cast<uv_handle_t*>(handle_.release());
    raw->data = nullptr;
    if (uv_is_closing(raw)) return;
    uv_close(raw, [](uv_handle_t* h) { std::unique_ptr<T>(reinterpret_cast<T*>(h)); });
  }

  // Call once uv_*_init succeeded: only initialized handles go through uv_close.
  void initialized() { initialized_ = true; }
  T* get() const { return handle_.get(); }
  uv_handle_t* base() const { return reinterpret_cast<uv_handle_t*>(handle_.get()); }

 private:
  std::unique_ptr<T> handle_;
  bool initialized_ = false;
};

}  // namespace hbone::net
