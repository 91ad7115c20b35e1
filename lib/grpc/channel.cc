#include "grpc/channel.h"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace hbone::grpc {

Channel::Channel(worker::Context& worker, ChannelOptions options) : worker_(worker), options_(std::move(options)) {}

Channel::~Channel() {
  for (auto& connection : connections_) {
    connection->shut_down();
    // Not destroyed here: this may run inside one of its callbacks.
    worker_.loop.retire(std::move(connection));
  }
}

Call& Channel::start(CallOptions options, CallHandlers handlers) {
  if (connections_.empty() || !connections_.back()->takes_calls()) {
    connections_.push_back(std::make_unique<ChannelConnection>(
        worker_, options_, [this](ChannelConnection* closed) { on_closed(closed); }));
    connections_.back()->connect();
  }
  return connections_.back()->start_call(std::move(options), std::move(handlers));
}

bool Channel::connected() const {
  return !connections_.empty() && connections_.back()->takes_calls() && connections_.back()->ready();
}

void Channel::on_closed(ChannelConnection* connection) {
  auto it = std::find_if(connections_.begin(), connections_.end(),
                         [connection](const auto& c) { return c.get() == connection; });
  if (it == connections_.end()) return;
  worker_.loop.retire(std::move(*it));  // inside its own close()
  connections_.erase(it);
}

void Channel::describe(nlohmann::json& out) const {
  out["target"] = options_.where();
  out["connected"] = connected();
  auto& connections = out["connections"] = nlohmann::json::array();
  for (const auto& connection : connections_) connection->describe(connections.emplace_back());
}

}  // namespace hbone::grpc
