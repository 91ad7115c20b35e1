#include "inpod/netns.h"

#include <linux/magic.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include <cerrno>
#include <cstring>

namespace hbone::inpod {

std::string NetnsId::to_string() const { return std::to_string(dev) + ":" + std::to_string(ino); }

std::optional<NetnsId> netns_id(int fd, std::string& why) {
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    why = std::string("fstat: ") + std::strerror(errno);
    return std::nullopt;
  }
  int type = ioctl(fd, NS_GET_NSTYPE);
  if (type >= 0) {
    if (type != CLONE_NEWNET) {
      why = "not a network namespace (namespace type " + std::to_string(type) + ")";
      return std::nullopt;
    }
  } else {
    // Kernels before 4.11 cannot say the type: at least it must be a namespace file.
    struct statfs fs {};
    if (fstatfs(fd, &fs) != 0 || (fs.f_type != NSFS_MAGIC && fs.f_type != PROC_SUPER_MAGIC)) {
      why = "not a namespace file";
      return std::nullopt;
    }
  }
  return NetnsId{st.st_dev, st.st_ino};
}

}  // namespace hbone::inpod
