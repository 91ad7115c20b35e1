#pragma once

#include <http_parser.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hbone::admin {

// What an admin endpoint answers.
struct HttpResult {
  int status = 200;
  std::string content_type = "text/plain";
  std::string body;
};

// One HTTP/1.x request as the admin endpoints see it: no header they act on, no body.
struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string path;    // without the query
  std::vector<std::pair<std::string, std::string>> query;  // percent-decoded, in order

  // The first value of `name` in the query, "" when absent.
  std::string param(std::string_view name) const;
};

// Reads one request from bytes as they arrive (http-parser does the parsing): the head
// up to `max_head` bytes, then a body of up to `max_body` bytes, read and dropped.
class RequestReader {
 public:
  enum class State {
    incomplete,  // feed more
    complete,    // request() holds it; bytes after it are ignored
    bad,         // not HTTP/1.x, or a target without a path: 400
    head_too_large,  // 431
    body_too_large,  // 413
  };

  RequestReader(size_t max_head, size_t max_body);
  RequestReader(const RequestReader&) = delete;
  RequestReader& operator=(const RequestReader&) = delete;

  State feed(std::string_view bytes);
  // The peer closed its side: a request still incomplete is a bad one.
  State finish();
  const HttpRequest& request() const { return request_; }

 private:
  static const http_parser_settings& settings();
  static int on_url(http_parser* p, const char* at, size_t n);
  static int on_headers_complete(http_parser* p);
  static int on_body(http_parser* p, const char* at, size_t n);
  static int on_message_complete(http_parser* p);

  http_parser parser_{};
  size_t max_head_;
  size_t max_body_;
  size_t head_bytes_ = 0;
  size_t body_bytes_ = 0;
  bool headers_done_ = false;
  std::string target_;
  State state_ = State::incomplete;
  HttpRequest request_;
};

}  // namespace hbone::admin
