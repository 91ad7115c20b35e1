#pragma once

#include <nghttp2/nghttp2.h>

#include <memory>

#include "config/config.h"
#include "h2/stream_handler.h"

namespace hbone::h2 {

struct SessionFree {
  void operator()(nghttp2_session* s) const { nghttp2_session_del(s); }
};
using Session = std::unique_ptr<nghttp2_session, SessionFree>;

// A session as every hbone connection runs it: the shared callback table (user_data is the
// H2Connection) and hbone's options (window updates only when bytes were written on, no
// stream limit until the peer's SETTINGS, no closed streams kept, flood limits). Empty, with
// nghttp2's error in `rv`, if it cannot be made.
Session new_session(bool server, void* user_data, int& rv);

// Our SETTINGS (windows, frame and header-list sizes; a client refuses push) and the
// connection window, which is no setting: WINDOW_UPDATE on stream 0 raises it.
void submit_settings(nghttp2_session* session, bool client, const config::Http2Config& h2);

// What a stream's DATA comes from: its handler's buffer, framed without a copy
// (NGHTTP2_DATA_FLAG_NO_COPY: the payload is sealed from there, see FrameOutput).
nghttp2_data_provider data_provider(StreamHandler* handler);

}  // namespace hbone::h2
