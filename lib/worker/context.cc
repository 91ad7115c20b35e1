#include "worker/context.h"

#include "net/socket_ops.h"

namespace hbone::worker {

std::unique_ptr<net::SocketStream> Context::socket_stream(net::Fd fd, SocketUse use,
                                                          std::optional<net::EdgeWatcher> dialled) const {
  net::apply_socket_options(fd.get(), config.socket);
  if (use == SocketUse::hbone) net::apply_hbone_options(fd.get(), config.socket);
  return std::make_unique<net::SocketStream>(loop.edges(), std::move(fd), std::move(dialled));
}

}  // namespace hbone::worker
