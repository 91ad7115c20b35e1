#include "metrics/labels.h"

namespace hbone::metrics {

const char* label(StallScope scope) {
  switch (scope) {
    case StallScope::stream: return "stream";
    case StallScope::connection: return "connection";
    case StallScope::count: break;
  }
  return "?";
}

const char* label(TlsResult result) {
  switch (result) {
    case TlsResult::ok: return "ok";
    case TlsResult::no_certificate: return "no_certificate";
    case TlsResult::bad_certificate: return "bad_certificate";
    case TlsResult::alpn: return "alpn";
    case TlsResult::spiffe_id: return "spiffe_id";
    case TlsResult::trust_domain: return "trust_domain";
    case TlsResult::identity: return "identity";
    case TlsResult::timeout: return "timeout";
    case TlsResult::error: return "error";
    case TlsResult::count: break;
  }
  return "?";
}

const char* label(ConnectFailure failure) {
  switch (failure) {
    case ConnectFailure::none: return "none";
    case ConnectFailure::refused: return "refused";
    case ConnectFailure::unreachable: return "unreachable";
    case ConnectFailure::timeout: return "timeout";
    case ConnectFailure::resolve: return "resolve";
    case ConnectFailure::forbidden: return "forbidden";
    case ConnectFailure::descriptors: return "descriptors";
    case ConnectFailure::other: return "other";
    case ConnectFailure::count: break;
  }
  return "?";
}

const char* label(LimitRefusal refusal) {
  switch (refusal) {
    case LimitRefusal::none: return "none";
    case LimitRefusal::max_tunnels: return "max_tunnels";
    case LimitRefusal::max_tunnels_per_identity: return "max_tunnels_per_identity";
    case LimitRefusal::count: break;
  }
  return "?";
}

const char* label(CaptureOutcome outcome) {
  switch (outcome) {
    case CaptureOutcome::tunnel: return "tunnel";
    case CaptureOutcome::direct: return "direct";
    case CaptureOutcome::unrouted: return "unrouted";
    case CaptureOutcome::loop: return "loop";
    case CaptureOutcome::no_destination: return "no_destination";
    case CaptureOutcome::limited: return "limited";
    case CaptureOutcome::count: break;
  }
  return "?";
}

const char* label(AcceptFailure failure) {
  switch (failure) {
    case AcceptFailure::emfile: return "emfile";
    case AcceptFailure::enfile: return "enfile";
    case AcceptFailure::enobufs: return "enobufs";
    case AcceptFailure::enomem: return "enomem";
    case AcceptFailure::other: return "other";
    case AcceptFailure::count: break;
  }
  return "?";
}

const char* label(DestinationRefusal refusal) {
  switch (refusal) {
    case DestinationRefusal::none: return "none";
    case DestinationRefusal::own_listener: return "own_listener";
    case DestinationRefusal::loopback: return "loopback";
    case DestinationRefusal::link_local: return "link_local";
    case DestinationRefusal::unspecified: return "unspecified";
    case DestinationRefusal::metadata: return "metadata";
    case DestinationRefusal::host_address: return "host_address";
    case DestinationRefusal::not_allowed: return "not_allowed";
    case DestinationRefusal::not_arrived: return "not_arrived";
    case DestinationRefusal::count: break;
  }
  return "?";
}

const char* label(ForwardedIgnored reason) {
  switch (reason) {
    case ForwardedIgnored::untrusted: return "untrusted";
    case ForwardedIgnored::malformed: return "malformed";
    case ForwardedIgnored::count: break;
  }
  return "?";
}

}  // namespace hbone::metrics
