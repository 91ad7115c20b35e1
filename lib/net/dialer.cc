#include "net/dialer.h"

#include <netdb.h>

#include <cerrno>
#include <cstring>
#include <memory>

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
    case Dialer::Failure::other: return "connect failed";
  }
  return "?";
}

namespace {

Dialer::Failure classify(int err) {
  switch (err) {
    case ECONNREFUSED: return Dialer::Failure::refused;
    case ENETUNREACH:
    case EHOSTUNREACH:
    case EHOSTDOWN: return Dialer::Failure::unreachable;
    case ETIMEDOUT: return Dialer::Failure::timeout;
    default: return Dialer::Failure::other;
  }
}

}  // namespace

Dialer::Dialer(EventLoop& loop, HostPort target, std::chrono::milliseconds timeout,
               AddressCheck allow, OnDone done)
    : loop_(loop),
      target_(std::move(target)),
      allow_(std::move(allow)),
      done_(std::move(done)),
      deadline_(loop.uv(), [this] {
        if (!result_) finish(Failure::timeout, "no connection within deadline");
        deliver();
      }) {
  deadline_.start(timeout);
  sockaddr_storage addr;
  socklen_t len = 0;
  if (to_sockaddr(target_, addr, len)) {
    connect_to(reinterpret_cast<sockaddr*>(&addr), len);
    constructing_ = false;
    return;
  }
  auto req = std::make_unique<uv_getaddrinfo_t>();
  req->data = this;
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_ADDRCONFIG;
  std::string port = std::to_string(target_.port);
  int rc = uv_getaddrinfo(loop_.uv(), req.get(), on_resolved, target_.host.c_str(), port.c_str(),
                          &hints);
  if (rc != 0) {
    finish(Failure::resolve, uv_strerror(rc));
  } else {
    resolving_ = req.release();
  }
  constructing_ = false;
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
  self->connect_to(res->ai_addr, res->ai_addrlen);
}

void Dialer::connect_to(const sockaddr* addr, socklen_t len) {
  std::memcpy(&address_, addr, len);
  if (allow_ && !allow_(addr)) {
    finish(Failure::forbidden, format_address(addr) + " is not in allowed_destinations");
    return;
  }
  fd_.reset(::socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd_) {
    finish(Failure::other, std::string("socket: ") + std::strerror(errno));
    return;
  }
  if (::connect(fd_.get(), addr, len) == 0) {
    finish(Failure::none, "");
    return;
  }
  if (errno != EINPROGRESS) {
    int err = errno;
    finish(classify(err), std::strerror(err));
    return;
  }
  poll_.emplace(loop_.uv(), fd_.get(), this);
  poll_->watch(UV_WRITABLE);
}

void Dialer::on_io(int status, int) {
  int err = socket_error(fd_.get());
  if (status < 0 && err == 0) err = -status;
  if (err != 0) {
    finish(classify(err), std::strerror(err));
    return;
  }
  finish(Failure::none, "");
}

void Dialer::finish(Failure failure, std::string detail) {
  if (result_) return;
  poll_.reset();
  Result& result = result_.emplace();
  result.failure = failure;
  result.detail = std::move(detail);
  result.address = address_;
  if (failure == Failure::none) result.fd = std::move(fd_);
  fd_.reset();
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
