// Reading one sample out of a Prometheus text exposition (format 0.0.4), as tests check the
// metrics of seedhop's processes and of etcd.
#pragma once

#include <optional>
#include <string_view>

namespace seedhop::testing {

// The value of the sample `series` (the metric name with its labels, exactly as exposed, e.g.
// `etcd_server_health_success` or `x_total{outcome="ok"}`) in `exposition`; nullopt when no line
// carries it or its value is not a number.
std::optional<double> SampleValue(std::string_view exposition, std::string_view series);

}  // namespace seedhop::testing
