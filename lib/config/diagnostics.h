#pragma once

#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

namespace hbone::config {

// Collects problems as "FILE:LINE: key: message" so one run reports all of them.
class Diagnostics {
 public:
  explicit Diagnostics(std::string file) : file_(std::move(file)) {}

  void error(const YAML::Node& at, const std::string& key, const std::string& message) {
    errors_.push_back(format(at, key, message));
  }
  void warning(const YAML::Node& at, const std::string& key, const std::string& message) {
    warnings_.push_back(format(at, key, message));
  }
  std::vector<std::string>& errors() { return errors_; }
  std::vector<std::string>& warnings() { return warnings_; }

 private:
  std::string format(const YAML::Node& at, const std::string& key, const std::string& message) {
    std::string where = file_;
    if (at.IsDefined() && at.Mark().line >= 0) where += ":" + std::to_string(at.Mark().line + 1);
    return where + ": " + key + ": " + message;
  }

  std::string file_;
  std::vector<std::string> errors_;
  std::vector<std::string> warnings_;
};

// `node[key]` where node is a mapping; else undefined (the readers reported the shape).
// (Found by tests/fuzz/config_fuzz: a scalar document made operator[] throw.)
inline YAML::Node field(const YAML::Node& node, const char* key) {
  return node.IsMap() ? node[key] : YAML::Node(YAML::NodeType::Undefined);
}

}  // namespace hbone::config
