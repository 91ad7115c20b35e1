#pragma once

namespace hbone::net {

// Why a dial failed. `descriptors`: no socket could be made (EMFILE, ENFILE, ENOBUFS,
// ENOMEM).
enum class DialFailure { none, refused, unreachable, timeout, resolve, forbidden, descriptors, other, count };

// Why accept() failed on a listener: out of descriptors (process, system) or kernel memory.
enum class AcceptFailure { emfile, enfile, enobufs, enomem, other, count };

// Their metric labels.
const char* label(DialFailure failure);
const char* label(AcceptFailure failure);

}  // namespace hbone::net
