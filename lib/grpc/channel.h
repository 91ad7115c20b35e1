#pragma once

#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <vector>

#include "grpc/call.h"
#include "grpc/channel_connection.h"
#include "worker/context.h"

namespace hbone::grpc {

// Calls to one server over HTTP/2 connections it makes as needed: a call goes on the
// connection that takes new calls, or on a new one, dialled at once. A connection the
// server drains (GOAWAY: istiod's connection age) keeps its calls until they end while new
// ones go to a fresh connection. Retrying a failed call, and backing off, is the caller's
// (util::Backoff): only it knows whether its call is worth repeating. One loop's object.
class Channel {
 public:
  Channel(worker::Context& worker, ChannelOptions options);
  // Every call ends without its handlers hearing of it; safe from inside a handler.
  ~Channel();
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  // The Call is valid until its on_close (or its cancel()).
  Call& start(CallOptions options, CallHandlers handlers);

  const ChannelOptions& options() const { return options_; }
  // A connection is through its handshake and takes calls.
  bool connected() const;
  void describe(nlohmann::json& out) const;

 private:
  void on_closed(ChannelConnection* connection);

  worker::Context& worker_;
  ChannelOptions options_;
  // The last one takes new calls while it can; the others finish theirs.
  std::vector<std::unique_ptr<ChannelConnection>> connections_;
};

}  // namespace hbone::grpc
