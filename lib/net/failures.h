#pragma once

namespace hbone::net {

// Why a dial failed. `descriptors`: no socket could be made (EMFILE, ENFILE, ENOBUFS,
// ENOMEM). (metrics/labels.h names them for the metrics.)
enum class DialFailure { none, refused, unreachable, timeout, resolve, forbidden, descriptors, other, count };

// Why accept() failed on a listener: out of descriptors (process, system) or kernel memory.
enum class AcceptFailure { emfile, enfile, enobufs, enomem, other, count };

}  // namespace hbone::net
