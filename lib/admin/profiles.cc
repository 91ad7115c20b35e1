#include "admin/profiles.h"

#include <gperftools/profiler.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "util/file.h"

#if HBONE_HAVE_TCMALLOC
#include <gperftools/malloc_extension.h>
#endif

namespace hbone::admin {

HttpResult cpu_profile(int seconds, int frequency_hz) {
  static std::mutex running;
  static int fixed_hz = 0;
  std::unique_lock lock(running, std::try_to_lock);
  if (!lock.owns_lock()) return {409, "text/plain", "a CPU profile is already being taken\n"};
  if (fixed_hz == 0) {
    fixed_hz = frequency_hz;
    setenv("CPUPROFILE_FREQUENCY", std::to_string(frequency_hz).c_str(), 1);
  } else if (frequency_hz != fixed_hz) {
    return {400, "text/plain",
            "frequency is fixed at " + std::to_string(fixed_hz) +
                " Hz for this process (gperftools reads it once)\n"};
  }
  char path[] = "/tmp/hbone-cpu-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) return {500, "text/plain", "cannot create a temporary file\n"};
  close(fd);
  if (!ProfilerStart(path)) {
    unlink(path);
    return {500, "text/plain", "gperftools could not start the CPU profiler\n"};
  }
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  ProfilerStop();
  std::optional<std::string> body = util::read_file(path);
  unlink(path);
  if (!body) return {500, "text/plain", "the CPU profile could not be read back\n"};
  return {200, "application/octet-stream", std::move(*body)};
}

HttpResult heap_profile() {
#if HBONE_HAVE_TCMALLOC
  std::string sample;
  MallocExtension::instance()->GetHeapSample(&sample);
  return {200, "application/octet-stream", sample};
#else
  return {501, "text/plain", "this build has no tcmalloc (-DHBONE_TCMALLOC=OFF, or sanitizers)\n"};
#endif
}

}  // namespace hbone::admin
