#pragma once

#include <sys/types.h>

#include <compare>
#include <memory>
#include <optional>
#include <string>

#include "net/fd.h"

namespace hbone::inpod {

// A pod's network namespace, held by its descriptor: shared by whatever still has to make
// a socket in it, so that removing the pod cannot close it under them.
using Netns = std::shared_ptr<const net::Fd>;

// Which network namespace a descriptor refers to: two descriptors name the same namespace
// when both numbers match (nsfs inodes), however they were opened.
struct NetnsId {
  dev_t dev = 0;
  ino_t ino = 0;
  auto operator<=>(const NetnsId&) const = default;
  std::string to_string() const;
};

// The namespace `fd` refers to, after checking it is a network namespace (NS_GET_NSTYPE,
// or the file system it lives on where the kernel is older); nullopt and `why` otherwise.
std::optional<NetnsId> netns_id(int fd, std::string& why);

}  // namespace hbone::inpod
