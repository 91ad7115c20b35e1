// hbone's end of ZDS against the project's fake Istio CNI agent (a real process on a real
// unix SOCK_SEQPACKET socket, tests/support/fake_cni_agent.py): hello, the snapshot and its
// reconciliation, adds and deletes with network-namespace descriptors, refusals, the agent
// going away and coming back.

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "inpod/zds_client.h"
#include "support/child_process.h"

namespace hbone::inpod {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr const char* kAgent = "../support/fake_cni_agent.py";
constexpr const char* kOwnNetns = "/proc/self/ns/net";

class ZdsClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    socket_ = (std::filesystem::temp_directory_path() / ("hbone-zds-" + std::to_string(::getpid()) + ".sock"));
    agent_.emplace(std::vector<std::string>{"/usr/bin/python3", kAgent, "--socket", socket_.string()});
    std::string line = agent_->read_line(30s);
    ASSERT_FALSE(line.empty()) << "the fake CNI agent did not start";
    ASSERT_EQ(json::parse(line), json({{"listening", socket_.string()}}));
  }
  void TearDown() override {
    client_.reset();
    agent_.reset();
    std::filesystem::remove(socket_);
  }

  void start(util::Backoff::Policy backoff = {.initial = 10ms, .multiplier = 2.0, .jitter = 0.2, .max = 200ms}) {
    client_.emplace(loop_, ZdsClient::Options{socket_.string(), backoff}, table_);
    client_->start();
  }
  void command(const json& c) { ASSERT_TRUE(agent_->write_line(c.dump())); }
  // The agent's next event, while the loop turns; without the connection's number but for
  // a disconnection's (the client holds one connection at a time: its count is what tells).
  json event() {
    auto deadline = std::chrono::steady_clock::now() + 20s;
    while (std::chrono::steady_clock::now() < deadline) {
      loop_.run_nowait();
      std::string line = agent_->read_line(1ms);
      if (line.empty()) continue;
      json e = json::parse(line);
      e.erase("conn");
      return e;
    }
    return json();
  }
  static json disconnected(int connection) { return {{"disconnected", connection}}; }
  static json add(const std::string& uid, const std::string& netns = kOwnNetns) {
    return {{"add", uid}, {"netns", netns}, {"name", uid}, {"namespace", "default"}, {"service_account", "sa-" + uid}};
  }
  static json sent(const std::string& kind, const std::string& uid, const std::string& error = "") {
    return {{"sent", kind}, {"uid", uid}, {"error", error}};
  }
  // A connection as the agent sees it: hello, an add for each pod it holds, a keep for each
  // it lost, then SnapshotSent, each acknowledged.
  void expect_snapshot(const std::vector<std::string>& adds, const std::vector<std::string>& keeps = {}) {
    EXPECT_EQ(event(), json({{"hello", 1}}));
    for (const std::string& uid : adds) EXPECT_EQ(event(), sent("add", uid));
    for (const std::string& uid : keeps) EXPECT_EQ(event(), sent("keep", uid));
    EXPECT_EQ(event(), sent("snapshot_sent", ""));
  }
  std::vector<std::string> served() const {
    std::vector<std::string> uids;
    for (const auto& [uid, pod] : table_.pods()) uids.push_back(uid);
    return uids;
  }

  net::EventLoop loop_;
  std::vector<std::string> added_, removed_;
  PodTable table_{{.added = [this](const Pod& p) { added_.push_back(p.uid); return std::string(); },
                   .removed = [this](const Pod& p) { removed_.push_back(p.uid); }}};
  std::filesystem::path socket_;
  std::optional<test::ChildProcess> agent_;
  std::optional<ZdsClient> client_;
};

TEST_F(ZdsClientTest, HelloThenTheSnapshotThenChanges) {
  command(add("p1"));
  start();
  expect_snapshot({"p1"});
  EXPECT_TRUE(client_->synced());
  ASSERT_EQ(served(), std::vector<std::string>{"p1"});
  const Pod& pod = table_.pods().at("p1");
  EXPECT_EQ(pod.info.service_account, "sa-p1");
  struct stat own {};
  ASSERT_EQ(::stat(kOwnNetns, &own), 0);
  EXPECT_EQ(pod.netns_id, (NetnsId{own.st_dev, own.st_ino}));  // the descriptor is the pod's namespace

  command(add("p2"));
  EXPECT_EQ(event(), sent("add", "p2"));
  command({{"del", "p1"}});
  EXPECT_EQ(event(), sent("del", "p1"));
  EXPECT_EQ(served(), std::vector<std::string>{"p2"});
  EXPECT_EQ(added_, (std::vector<std::string>{"p1", "p2"}));
  EXPECT_EQ(removed_, std::vector<std::string>{"p1"});
}

TEST_F(ZdsClientTest, WhatIsNotANetworkNamespaceIsRefusedAndTheRestGoesOn) {
  start();
  expect_snapshot({});
  command(add("file", "/dev/null"));
  EXPECT_EQ(event(), sent("add", "file", "pod file: not a namespace file"));
  command(add("uts", "/proc/self/ns/uts"));  // a namespace, of another kind
  json refused = event();
  EXPECT_NE(refused["error"].get<std::string>().find("pod uts: not a network namespace"), std::string::npos)
      << refused;
  command(add("good"));
  EXPECT_EQ(event(), sent("add", "good"));
  EXPECT_EQ(served(), std::vector<std::string>{"good"});
}

TEST_F(ZdsClientTest, AnUnreadableRequestIsRefusedAndTheConnectionStartsOver) {
  command(add("p1"));
  start();
  expect_snapshot({"p1"});
  // An add (field 1: AddWorkload{uid "x"}) without its descriptor.
  command({{"raw", "CgMKAXg="}});
  EXPECT_EQ(event(), json({{"sent", "raw"}, {"uid", ""}, {"error", "add without the pod's network namespace"}}));
  EXPECT_EQ(event(), disconnected(1));
  // hbone comes back; the snapshot still names p1: nothing changed meanwhile.
  expect_snapshot({"p1"});
  EXPECT_EQ(served(), std::vector<std::string>{"p1"});
  EXPECT_EQ(added_, std::vector<std::string>{"p1"});  // the same namespace: not served twice
  EXPECT_TRUE(removed_.empty());
}

TEST_F(ZdsClientTest, AfterTheAgentRestartsItsSnapshotReconcilesThePods) {
  for (const char* uid : {"p1", "p2", "p3"}) command(add(uid));
  start();
  expect_snapshot({"p1", "p2", "p3"});
  // While the agent is away p2 was deleted, and the agent lost p3's namespace (keep).
  command({{"restart", true}, {"forget", {"p2"}}, {"keep", {"p3"}}, {"away", 0.5}});
  EXPECT_EQ(event(), disconnected(1));
  // Meanwhile the pods stay served, and the proxy ready.
  for (auto until = std::chrono::steady_clock::now() + 200ms; std::chrono::steady_clock::now() < until;) {
    loop_.run_nowait();
  }
  EXPECT_TRUE(client_->synced());
  EXPECT_EQ(served().size(), 3u);
  expect_snapshot({"p1"}, {"p3"});
  EXPECT_EQ(served(), (std::vector<std::string>{"p1", "p3"}));
  EXPECT_EQ(removed_, std::vector<std::string>{"p2"});
  // A keep is for snapshots only (KeepWorkload{uid "p1"} after SnapshotSent): the agent is
  // out of step, and the connection starts over.
  command({{"raw", "KgQKAnAx"}});
  EXPECT_EQ(event(), json({{"sent", "raw"}, {"uid", ""}, {"error", "keep p1 after the snapshot"}}));
  EXPECT_EQ(event(), disconnected(2));
  EXPECT_EQ(event(), json({{"hello", 1}}));
}

}  // namespace
}  // namespace hbone::inpod
