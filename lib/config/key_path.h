#pragma once

#include <string>

#include "config/keys.h"

namespace hbone::config {

// For visitors of keys.h: the dotted path of the section being visited.
class KeyPath {
 protected:
  template <typename F>
  void nested(const std::string& name, F&& fn) {
    std::string saved = prefix_;
    prefix_ += name + ".";
    fn();
    prefix_ = saved;
  }
  std::string path(const Key& key) const { return prefix_ + key.name; }

 private:
  std::string prefix_;
};

}  // namespace hbone::config
