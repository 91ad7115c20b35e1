#include "inpod/zds_client.h"

#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "net/dialer.h"

namespace hbone::inpod {
namespace {

// Requests are a few hundred bytes; anything longer is cut (MSG_TRUNC) and refused.
constexpr size_t kMaxRequest = 4096;
// Room for more descriptors than a request may carry, so that extra ones are seen and closed.
constexpr size_t kMaxDescriptors = 8;

}  // namespace

ZdsClient::ZdsClient(net::EventLoop& loop, Options options, PodTable& pods)
    : loop_(loop),
      options_(std::move(options)),
      pods_(pods),
      backoff_(options_.backoff),
      retry_(loop.uv(), [this] { connect(); }) {}

void ZdsClient::start() { connect(); }

void ZdsClient::connect() {
  std::optional<net::SocketAddress> address = net::unix_address(options_.socket_path);
  if (!address) {
    lost("socket path too long: " + options_.socket_path);
    return;
  }
  socket_.reset(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!socket_ || ::connect(socket_.get(), address->get(), address->length) != 0) {
    lost("cannot connect to the CNI agent at " + options_.socket_path + ": " + std::strerror(errno));
    return;
  }
  pods_.new_connection();
  std::string hello = encode_hello();
  if (::send(socket_.get(), hello.data(), hello.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(hello.size())) {
    lost(std::string("cannot say hello to the CNI agent: ") + std::strerror(errno));
    return;
  }
  connected_ = true;
  spdlog::info("inpod: connected to the CNI agent at {}", options_.socket_path);
  watcher_.emplace(loop_.uv(), socket_.get(), this);
  watcher_->watch(UV_READABLE);
}

void ZdsClient::on_io(int status, int) {
  if (status < 0) {
    lost(std::string("connection to the CNI agent failed: ") + uv_strerror(status));
    return;
  }
  receive();
}

void ZdsClient::receive() {
  while (socket_) {
    char bytes[kMaxRequest];
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxDescriptors)];
    iovec iov{bytes, sizeof(bytes)};
    msghdr message{};
    message.msg_iov = &iov;
    message.msg_iovlen = 1;
    message.msg_control = control;
    message.msg_controllen = sizeof(control);
    ssize_t n = ::recvmsg(socket_.get(), &message, MSG_CMSG_CLOEXEC);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n < 0) {
      lost(std::string("reading from the CNI agent: ") + std::strerror(errno));
      return;
    }
    ZdsPacket packet{{bytes, static_cast<size_t>(n)}, {}, (message.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0};
    // Every descriptor is owned at once, whatever happens to the request.
    for (cmsghdr* c = CMSG_FIRSTHDR(&message); c; c = CMSG_NXTHDR(&message, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < count; ++i) {
        int fd = -1;
        std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
        packet.fds.emplace_back(fd);
      }
    }
    if (n == 0 && packet.fds.empty()) {
      lost("the CNI agent closed the connection");
      return;
    }
    ParsedRequest parsed = parse_request(std::move(packet));
    if (!parsed.request) {
      answer(parsed.error);
      lost("unreadable request from the CNI agent: " + parsed.error);
      return;
    }
    PodTable::Applied applied = pods_.apply(std::move(*parsed.request));
    answer(applied.error);
    if (applied.broken) {
      lost("the CNI agent broke the protocol: " + applied.error);
      return;
    }
    if (pods_.snapshot_received() && !through_snapshot_) {
      through_snapshot_ = true;
      synced_ = true;
      backoff_.reset();
    }
  }
}

void ZdsClient::answer(const std::string& error) {
  if (!error.empty()) spdlog::warn("inpod: refused a CNI agent request: {}", error);
  std::string ack = encode_ack(error);
  // The agent waits for each answer before its next request: the socket has room.
  if (::send(socket_.get(), ack.data(), ack.size(), MSG_NOSIGNAL | MSG_DONTWAIT) != static_cast<ssize_t>(ack.size())) {
    spdlog::warn("inpod: cannot answer the CNI agent: {}", std::strerror(errno));
  }
}

void ZdsClient::lost(const std::string& why) {
  watcher_.reset();
  socket_.reset();
  through_snapshot_ = false;
  auto delay = backoff_.next();
  bool was_connected = std::exchange(connected_, false);
  spdlog::warn("inpod: {}{}; connecting again in {} ms", why, was_connected ? " (the pods stay served)" : "",
               delay.count());
  retry_.start(delay);
}

}  // namespace hbone::inpod
