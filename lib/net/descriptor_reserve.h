#pragma once

namespace hbone::net {

// The last descriptors below RLIMIT_NOFILE are not the data path's to take. Descriptors are
// numbered lowest-free first, so a new descriptor's number says how many are in use.
//  - An accepted connection numbered `accept_below` or higher is reset at once: the last
//    eighth of the limit (8 to 256) stays for the work of connections already open.
//  - A dial whose socket is numbered `dial_below` or higher fails (503 "out of
//    descriptors"): the last quarter of that (at least 4) stays for the admin endpoint,
//    logs and the runtime (a sanitizer's memory probe opens a pipe).
// Without a finite limit both are INT_MAX.
struct DescriptorReserve {
  int accept_below;
  int dial_below;

  static DescriptorReserve current();
};

}  // namespace hbone::net
