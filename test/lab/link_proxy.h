// The lab's link between its two seeds: one TCP relay per etcd member, listening on the address
// the other seed reaches that member's peer port through (its "exposed" address, as a per-member
// LoadBalancer or gateway route would be), which the lab can cut and heal.
//
// A cut resets every relayed connection and closes new ones as they arrive, until healed: etcd on
// either side sees its peers on the other side go away at once, as after a reset, rather than
// after its own timeouts, as behind a black hole. Either way the members on the other side are
// unreachable for the length of the cut; only how quickly etcd notices differs.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"

namespace seedhop::lab {

// Returns the address the other seed reaches pod `ordinal` of the `etcd_index`-th etcd on seed
// `seed_index` through: 127.(20+seed_index).(128+etcd_index).(ordinal+1), beside PodAddress.
// REQUIRES: 0 <= seed_index < 200, 0 <= etcd_index < 128, 0 <= ordinal < 255.
std::string ExposedAddress(int seed_index, int etcd_index, int ordinal);

// One relay: connections to listen_address:listen_port go on to target_address:target_port.
struct LinkRoute {
  std::string listen_address;
  uint16_t listen_port = 0;
  std::string target_address;
  uint16_t target_port = 0;
};

// Relays on a thread of its own. Thread-safe.
class LinkProxy {
 public:
  explicit LinkProxy(std::vector<LinkRoute> routes);
  // Stops the proxy.
  ~LinkProxy();
  LinkProxy(const LinkProxy&) = delete;
  LinkProxy& operator=(const LinkProxy&) = delete;

  // Binds every route and starts relaying. Errors name the route that could not bind.
  // REQUIRES: called once.
  Status Start();
  // Closes every listener and connection and joins the thread. Idempotent.
  void Stop();

  // Resets every relayed connection and refuses new ones until Heal(); in effect when it returns.
  void Cut();
  // Relays new connections again; in effect when it returns.
  void Heal();

  // Connections relayed, and connections closed at once because the link was cut, so far.
  int64_t relayed() const;
  int64_t refused() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace seedhop::lab
