#include "util/escape.h"

#include <gtest/gtest.h>

#include <string>

using hbone::util::escaped;

TEST(Escaped, KeepsPrintableAsciiAndEscapesTheRest) {
  EXPECT_EQ(escaped("spiffe://cluster.local/ns/a/sa/b"), "spiffe://cluster.local/ns/a/sa/b");
  // A SAN with a NUL and a forged log line after it stays on one line, visibly.
  EXPECT_EQ(escaped(std::string("ns/a\0\nINFO forged", 17)), "ns/a\\x00\\x0aINFO forged");
  EXPECT_EQ(escaped("a\"b\\c"), "a\\\"b\\\\c");  // nothing ends a quoted field early
  EXPECT_EQ(escaped("\x7f\xc3\xa9\t"), "\\x7f\\xc3\\xa9\\x09");
}
