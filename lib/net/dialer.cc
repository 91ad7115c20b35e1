#include "net/dialer.h"

#include <netdb.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <cstddef>

#include <cerrno>
#include <cstring>
#include <memory>
#include <utility>

#include "net/own_connections.h"
#include "net/socket_ops.h"

namespace hbone::net {

const char* to_string(Dialer::Failure failure) {
  switch (failure) {
    case Dialer::Failure::none: return "none";
    case Dialer::Failure::refused: return "connection refused";
    case Dialer::Failure::unreachable: return "unreachable";
    case Dialer::Failure::timeout: return "connect timeout";
    case Dialer::Failure::resolve: return "name resolution failed";
    case Dialer::Failure::forbidden: return "destination not allowed";
    case Dialer::Failure::descriptors: return "out of descriptors";
    case Dialer::Failure::other:
    case Dialer::Failure::count: break;
  }
  return "connect failed";
}

namespace {

Dialer::Failure classify(int err) {
  switch (err) {
    case ECONNREFUSED: return Dialer::Failure::refused;
    case ENETUNREACH:
    case EHOSTUNREACH:
    case EHOSTDOWN: return Dialer::Failure::unreachable;
    case ETIMEDOUT: return Dialer::Failure::timeout;
    case EMFILE:
    case ENFILE:
    case ENOBUFS:
    case ENOMEM: return Dialer::Failure::descriptors;
    default: return Dialer::Failure::other;
  }
}

// Binds `fd` transparently to `from`'s IP, the kernel choosing the port (set in `port`):
// "" or why not.
std::string bind_from(int fd, const sockaddr_storage& from, uint16_t& port) {
  if (!set_transparent(fd, from.ss_family)) return std::string("IP_TRANSPARENT: ") + std::strerror(errno);
  bool v6 = from.ss_family == AF_INET6;
  sockaddr_storage address = from;
  socklen_t length = v6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
  if (v6) {
    reinterpret_cast<sockaddr_in6*>(&address)->sin6_port = 0;
  } else {
    reinterpret_cast<sockaddr_in*>(&address)->sin_port = 0;
  }
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&address), length) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    return "bind to " + format_address(reinterpret_cast<const sockaddr*>(&from)) + ": " + std::strerror(errno);
  }
  port = port_of(reinterpret_cast<const sockaddr*>(&address));
  return "";
}

}  // namespace

std::optional<SocketAddress> unix_address(std::string_view path) {
  SocketAddress out;
  auto& un = reinterpret_cast<sockaddr_un&>(out.storage);
  if (path.size() >= sizeof(un.sun_path)) return std::nullopt;
  un.sun_family = AF_UNIX;
  path.copy(un.sun_path, path.size());
  out.length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
  return out;
}

Dialer::Dialer(EventLoop& loop, DialOptions options, AddressCheck allow, OnDone done)
    : loop_(loop),
      mark_(options.mark),
      descriptors_below_(options.descriptors_below),
      sockets_(std::move(options.sockets)),
      from_(options.from),
      allow_(std::move(allow)),
      done_(std::move(done)),
      deadline_(loop.uv(), [this] {
        if (!result_) finish(Failure::timeout, "no connection within deadline");
        deliver();
      }) {
  deadline_.start(options.timeout);
}

Dialer::Dialer(EventLoop& loop, address::HostPort target, DialOptions options, AddressCheck allow,
               OnDone done)
    : Dialer(loop, options, std::move(allow), std::move(done)) {
  SocketAddress literal;
  if (to_sockaddr(target, literal.storage, literal.length)) {
    candidates_.push_back(literal);
    try_next();
  } else {
    resolve(target);
  }
  constructing_ = false;
}

Dialer::Dialer(EventLoop& loop, std::vector<SocketAddress> candidates, DialOptions options,
               AddressCheck allow, OnDone done)
    : Dialer(loop, options, std::move(allow), std::move(done)) {
  candidates_ = std::move(candidates);
  try_next();
  constructing_ = false;
}

void Dialer::resolve(const address::HostPort& target) {
  auto req = std::make_unique<uv_getaddrinfo_t>();
  req->data = this;
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_ADDRCONFIG;
  std::string port = std::to_string(target.port);
  int rc = uv_getaddrinfo(loop_.uv(), req.get(), on_resolved, target.host.c_str(), port.c_str(),
                          &hints);
  if (rc != 0) {
    finish(Failure::resolve, uv_strerror(rc));
  } else {
    resolving_ = req.release();
  }
}

Dialer::~Dialer() {
  if (resolving_) {
    resolving_->data = nullptr;  // the callback still runs (with UV_ECANCELED) and frees it
    uv_cancel(reinterpret_cast<uv_req_t*>(resolving_));
  }
}

void Dialer::on_resolved(uv_getaddrinfo_t* req, int status, addrinfo* res) {
  std::unique_ptr<uv_getaddrinfo_t> owned(req);
  std::unique_ptr<addrinfo, void (*)(addrinfo*)> result(res, uv_freeaddrinfo);
  auto* self = static_cast<Dialer*>(req->data);
  if (!self) return;
  self->resolving_ = nullptr;
  if (status != 0 || !res) {
    self->finish(Failure::resolve, status ? uv_strerror(status) : "no address");
    return;
  }
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    SocketAddress& candidate = self->candidates_.emplace_back();
    std::memcpy(&candidate.storage, ai->ai_addr, ai->ai_addrlen);
    candidate.length = ai->ai_addrlen;
  }
  self->try_next();
}

void Dialer::try_next() {
  while (!result_ && next_ < candidates_.size()) {
    const SocketAddress& candidate = candidates_[next_++];
    const sockaddr* addr = candidate.get();
    address_ = candidate.storage;
    if (std::string refusal = allow_ ? allow_(addr) : std::string(); !refusal.empty()) {
      // Forbidden only when no candidate is allowed: later failures say more.
      if (last_failure_ == Failure::resolve || last_failure_ == Failure::forbidden) {
        last_failure_ = Failure::forbidden;
        last_detail_ = std::move(refusal);
      }
      continue;
    }
    if (sockets_) {
      sockets_(addr->sa_family, [this, alive = std::weak_ptr<const bool>(alive_)](Fd fd, int error) {
        if (alive.expired() || result_) return;  // gone, or past its deadline meanwhile
        if (!connect_with(std::move(fd), error)) try_next();
      });
      return;
    }
    Fd fd(::socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (connect_with(std::move(fd), errno)) return;
  }
  if (!result_) finish(last_failure_, last_detail_);
}

bool Dialer::connect_with(Fd fd, int error) {
  fd_ = std::move(fd);
  if (!fd_) {
    attempt_failed(classify(error), std::string("socket: ") + std::strerror(error));
    return false;
  }
  if (fd_.get() >= descriptors_below_) {
    attempt_failed(Failure::descriptors, "socket: the last descriptors are kept for the admin endpoint");
    return false;
  }
  // Fails only without CAP_NET_ADMIN, which the daemon checks at startup (fatal with capture).
  if (mark_) ::setsockopt(fd_.get(), SOL_SOCKET, SO_MARK, &mark_, sizeof(mark_));
  const SocketAddress& candidate = candidates_[next_ - 1];
  if (from_ && from_->ss_family == candidate.storage.ss_family) {
    uint16_t port = 0;
    if (std::string error = bind_from(fd_.get(), *from_, port); !error.empty()) {
      attempt_failed(Failure::other, std::move(error));
      return false;
    }
    if (port == port_of(reinterpret_cast<const sockaddr*>(&*from_))) {  // the peer's own: this candidate again, with another socket
      if (std::exchange(from_port_retried_, true)) {
        attempt_failed(Failure::other, "bound to the peer's own port twice");
        return false;
      }
      --next_;
      fd_.reset();
      return false;
    }
  }
  int rc = ::connect(fd_.get(), candidate.get(), candidate.length);
  int err = errno;
  if (rc == 0 || err == EINPROGRESS) OwnConnections::instance().add(fd_.get(), candidate.get());
  if (rc == 0) {
    finish(Failure::none, "");
    return true;
  }
  if (err == EINPROGRESS) {
    poll_.emplace(loop_.edges(), fd_.get(), this);
    poll_->watch(UV_WRITABLE);
    return true;
  }
  attempt_failed(classify(err), std::strerror(err));
  return false;
}

void Dialer::attempt_failed(Failure failure, std::string detail) {
  close_watched(poll_, fd_, /*reset=*/false);
  last_failure_ = failure;
  last_detail_ = format_address(reinterpret_cast<const sockaddr*>(&address_)) + ": " + detail;
}

void Dialer::on_io(int status, int) {
  int err = socket_error(fd_.get());
  if (status < 0 && err == 0) err = -status;
  if (err == 0) {
    finish(Failure::none, "");
    return;
  }
  attempt_failed(classify(err), std::strerror(err));
  try_next();
}

void Dialer::finish(Failure failure, std::string detail) {
  if (result_) return;
  Result& result = result_.emplace();
  result.failure = failure;
  result.detail = std::move(detail);
  result.address = address_;
  if (failure == Failure::none) {
    result.fd = std::move(fd_);
    if (poll_) {
      poll_->watch(0);
      result.watcher.emplace(std::move(*poll_));
    }
  }
  close_watched(poll_, fd_, /*reset=*/false);  // a failure's socket (a success's moved on)
  if (constructing_) {
    deadline_.start(std::chrono::milliseconds(0));  // the owner does not hold us yet
    return;
  }
  deliver();
}

void Dialer::deliver() {
  if (delivered_ || !result_) return;
  delivered_ = true;
  deadline_.stop();
  done_(std::move(*result_));
}

}  // namespace hbone::net
