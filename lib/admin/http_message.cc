#include "admin/http_message.h"

#include <algorithm>

namespace hbone::admin {

namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// application/x-www-form-urlencoded: '+' is a space, %XX a byte; a malformed escape stays
// as it is.
std::string decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    int high = -1, low = -1;
    if (text[i] == '%' && i + 2 < text.size() && (high = hex_digit(text[i + 1])) >= 0 &&
        (low = hex_digit(text[i + 2])) >= 0) {
      out += static_cast<char>(high * 16 + low);
      i += 2;
    } else {
      out += text[i] == '+' ? ' ' : text[i];
    }
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> parse_query(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> pairs;
  while (!query.empty()) {
    size_t end = std::min(query.find('&'), query.size());
    std::string_view item = query.substr(0, end);
    query.remove_prefix(std::min(end + 1, query.size()));
    if (item.empty()) continue;
    size_t eq = item.find('=');
    if (eq == std::string_view::npos) {
      pairs.emplace_back(decode(item), "");
    } else {
      pairs.emplace_back(decode(item.substr(0, eq)), decode(item.substr(eq + 1)));
    }
  }
  return pairs;
}

}  // namespace

std::string HttpRequest::param(std::string_view name) const {
  for (const auto& [key, value] : query) {
    if (key == name) return value;
  }
  return "";
}

RequestReader::RequestReader(size_t max_head, size_t max_body) : max_head_(max_head), max_body_(max_body) {
  http_parser_init(&parser_, HTTP_REQUEST);
  parser_.data = this;
}

RequestReader::State RequestReader::feed(std::string_view bytes) {
  while (state_ == State::incomplete && !bytes.empty()) {
    // The head may not run past max_head: parse no more than what is left of it.
    size_t n = headers_done_ ? bytes.size() : std::min(bytes.size(), max_head_ - head_bytes_);
    if (n == 0) return state_ = State::head_too_large;
    size_t used = http_parser_execute(&parser_, &settings(), bytes.data(), n);
    if (!headers_done_) head_bytes_ += used;
    auto error = HTTP_PARSER_ERRNO(&parser_);
    // A callback that refuses the request has set the state already; paused is complete.
    if (error != HPE_OK && error != HPE_PAUSED && state_ == State::incomplete) state_ = State::bad;
    if (state_ == State::incomplete && used < n) state_ = State::bad;  // stopped without saying why
    bytes.remove_prefix(used);
  }
  return state_;
}

RequestReader::State RequestReader::finish() {
  if (state_ == State::incomplete) state_ = State::bad;  // requests never end at EOF
  return state_;
}

int RequestReader::on_url(http_parser* p, const char* at, size_t n) {
  static_cast<RequestReader*>(p->data)->target_.append(at, n);
  return 0;
}

int RequestReader::on_headers_complete(http_parser* p) {
  auto* self = static_cast<RequestReader*>(p->data);
  self->headers_done_ = true;
  http_parser_url url;
  http_parser_url_init(&url);
  if (p->http_major != 1 ||
      http_parser_parse_url(self->target_.data(), self->target_.size(), 0, &url) != 0 ||
      !(url.field_set & (1 << UF_PATH))) {
    self->state_ = State::bad;
    return -1;
  }
  auto field = [&](http_parser_url_fields f) {
    return std::string_view(self->target_).substr(url.field_data[f].off, url.field_data[f].len);
  };
  self->request_.method = http_method_str(static_cast<http_method>(p->method));
  self->request_.path = field(UF_PATH);
  if (url.field_set & (1 << UF_QUERY)) self->request_.query = parse_query(field(UF_QUERY));
  return 0;
}

int RequestReader::on_body(http_parser* p, const char*, size_t n) {
  auto* self = static_cast<RequestReader*>(p->data);
  self->body_bytes_ += n;
  if (self->body_bytes_ <= self->max_body_) return 0;
  self->state_ = State::body_too_large;
  return -1;
}

int RequestReader::on_message_complete(http_parser* p) {
  static_cast<RequestReader*>(p->data)->state_ = State::complete;
  http_parser_pause(p, 1);  // one request per connection: what follows is not parsed
  return 0;
}

const http_parser_settings& RequestReader::settings() {
  static const http_parser_settings s = [] {
    http_parser_settings init;
    http_parser_settings_init(&init);
    init.on_url = &RequestReader::on_url;
    init.on_headers_complete = &RequestReader::on_headers_complete;
    init.on_body = &RequestReader::on_body;
    init.on_message_complete = &RequestReader::on_message_complete;
    return init;
  }();
  return s;
}

}  // namespace hbone::admin
