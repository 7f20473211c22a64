// etcd sessions: kept from poll to poll while the pods they reach stay the same.
#include "common/etcd/sessions.h"

#include <gtest/gtest.h>

namespace seedhop::etcd {
namespace {

const std::map<int, std::string> kThreePods = {
    {0, "http://etcd-main-0:2379"}, {1, "http://etcd-main-1:2379"}, {2, "http://etcd-main-2:2379"}};

TEST(Sessions, KeepsASessionWhileItsPodsStayTheSame) {
  Sessions sessions;
  auto first = sessions.For("etcd-main", kThreePods, {});
  EXPECT_EQ(sessions.For("etcd-main", kThreePods, {}), first);
}

TEST(Sessions, ReplacesTheSessionWhenThePodsChange) {
  Sessions sessions;
  auto three = sessions.For("etcd-main", kThreePods, {});
  std::map<int, std::string> two = kThreePods;
  two.erase(2);
  auto replaced = sessions.For("etcd-main", two, {});
  EXPECT_NE(replaced, three);
  EXPECT_EQ(sessions.For("etcd-main", two, {}), replaced);
  // A caller still holding the old session may go on using it.
  EXPECT_EQ(three.use_count(), 1);
}

TEST(Sessions, KeepsOneSessionPerEtcd) {
  Sessions sessions;
  auto main = sessions.For("etcd-main", kThreePods, {});
  auto events = sessions.For("etcd-events", {{0, "http://etcd-events-0:2379"}}, {});
  EXPECT_NE(main, events);
  EXPECT_EQ(sessions.For("etcd-main", kThreePods, {}), main);
  EXPECT_EQ(sessions.For("etcd-events", {{0, "http://etcd-events-0:2379"}}, {}), events);
}

}  // namespace
}  // namespace seedhop::etcd
