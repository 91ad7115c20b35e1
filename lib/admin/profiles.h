#pragma once

#include "admin/http_message.h"

namespace hbone::admin {

// A gperftools CPU profile of the whole process over `seconds`, in the format
// `google-pprof --text <binary> <file>` reads. One at a time: 409 while one runs.
// gperftools reads the sampling frequency once per process, so the first profile fixes it.
HttpResult cpu_profile(int seconds, int frequency_hz);

// A tcmalloc heap sample (TCMALLOC_SAMPLE_PARAMETER bytes between samples), same format.
HttpResult heap_profile();

}  // namespace hbone::admin
